"""``scratchwarden keys`` and ``decrypt``: the key-encryption keys (KEKs) of
encryption at rest, and restoring one file for an operator (audited).

``keys rotate`` exits 1 when a file could not be rewrapped (each is listed).
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from daemon.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    inventory_option,
    node,
    node_option,
    open_store,
    state_dir,
    state_dir_option,
)
from scratchwarden.errors import ScratchwardenError

if TYPE_CHECKING:
    from inventory.store import Store

keyring_option = click.option(
    "--keyring", "keyring_path", type=click.Path(path_type=Path), default=None,
    help="Keyring file or key directory (default: keys/ in the state dir).")


def _keyring_path(ctx: click.Context, path: Path | None) -> Path:
    return path or state_dir(ctx) / "keys"


@click.group("keys")
def keys() -> None:
    """Manage the key-encryption keys (KEKs) of encryption at rest."""


@keys.command("generate")
@keyring_option
@click.option("--file", "as_file", is_flag=True,
              help="Write one keyring file (0600) instead of a key directory (0700).")
@state_dir_option
@click.pass_context
def keys_generate(ctx: click.Context, keyring_path: Path | None, as_file: bool) -> None:
    """Create a keyring with one fresh active KEK (refuses to replace one)."""
    from daemon.crypto import generate_keyring

    path = _keyring_path(ctx, keyring_path)
    kr = generate_keyring(path, directory=not as_file)
    click.echo(f"generated keyring {path}: active KEK {kr.active_id}")


@keys.command("rotate")
@keyring_option
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path),
              help="Tree to rewrap (repeatable).")
@inventory_option
@node_option
@state_dir_option
@click.pass_context
def keys_rotate(ctx: click.Context, keyring_path: Path | None, roots: tuple[Path, ...]) -> None:
    """New active KEK; rewrap every encrypted file under --root and every one the
    inventory knows (headers only, data untouched)."""
    from daemon.crypto import rewrap_file, rotate

    path = _keyring_path(ctx, keyring_path)
    report = rotate(path, roots)
    with open_store(ctx) as store:
        known = _encrypted_files(store, node(ctx))
    done = {p.resolve() for p in report.rewrapped + report.already_current}
    from daemon.crypto import load_keyring

    keyring = load_keyring(path)
    for f in known:
        if f.resolve() in done:
            continue
        try:
            (report.rewrapped if rewrap_file(f, keyring) else report.already_current).append(f)
        except (OSError, ScratchwardenError) as e:
            report.failed.append((f, str(e)))
    click.echo(f"rotated to KEK {report.active_id}: {len(report.rewrapped)} rewrapped, "
               f"{len(report.already_current)} already current, {len(report.failed)} failed")
    for f, why in report.failed:
        click.echo(f"  failed: {f}: {why}", err=True)
    sys.exit(EXIT_FINDINGS if report.failed else EXIT_OK)


@keys.command("retire")
@click.argument("kek_id")
@keyring_option
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path),
              help="Tree to check for files still using the KEK (repeatable).")
@inventory_option
@node_option
@state_dir_option
@click.pass_context
def keys_retire(ctx: click.Context, kek_id: str, keyring_path: Path | None,
                roots: tuple[Path, ...]) -> None:
    """Remove a KEK once no encrypted file (under --root or in the inventory) uses it."""
    from daemon.crypto import retire

    with open_store(ctx) as store:
        files = _encrypted_files(store, node(ctx))
    kr = retire(_keyring_path(ctx, keyring_path), kek_id, roots=roots, files=files)
    click.echo(f"retired KEK {kek_id}; active KEK {kr.active_id}, {len(kr.keys)} KEK(s) left "
               f"(checked {len(files)} inventoried file(s), {len(roots)} root(s))")


def _encrypted_files(store: Store, node_id: str) -> list[Path]:
    return [Path(a.path) for a in store.iter_assets(node_id, include_deleted=False)
            if a.encryption_state == "encrypted" and os.path.lexists(a.path)]


# ---------------------------------------------------------------- decrypt

@click.command("decrypt")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write the plaintext here and keep the ciphertext (default: in place).")
@keyring_option
@inventory_option
@node_option
@state_dir_option
@click.pass_context
def decrypt(ctx: click.Context, path: Path, out: Path | None, keyring_path: Path | None) -> None:
    """Restore an encrypted file for an authorized operator (recorded in the audit chain)."""
    from daemon.actions.context import ActionContext
    from daemon.actions.decrypt import decrypt_for_operator, operator_name
    from daemon.crypto import load_keyring

    keyring = load_keyring(_keyring_path(ctx, keyring_path))
    with open_store(ctx) as store:
        actx = ActionContext(store, node(ctx), state_dir(ctx), keyring)
        result = decrypt_for_operator(actx, os.path.abspath(path),
                                      out=os.path.abspath(out) if out else None,
                                      operator=operator_name(), now=datetime.now(UTC))
    click.echo(f"decrypted {path} -> {result} (recorded in the audit chain)")


COMMANDS: tuple[click.Command, ...] = (keys, decrypt)
