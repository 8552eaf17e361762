"""CLI commands for policies, keys, decryption, quarantine, sessions and the
audit chain. Registered on the ``scratchwarden`` group by :func:`register`.

Exit codes follow ``daemon.cli.scan``: 0 success; 1 a verification failed (policy
test mismatch, tampered audit chain, nothing to explain); 2 usage or runtime
error (invalid policy with file:line, missing keys, inventory down...).
Nothing printed here contains a detected value: entities are shown by type
and count only.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from daemon.cli.common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, _state_dir, handle_errors
from daemon.platform.state_dir import default_inventory_url
from scratchwarden.errors import ScratchwardenError

if TYPE_CHECKING:
    from inventory.store import Store

INVENTORY_HELP = "SQLAlchemy URL of the inventory (default: SQLite file in the state dir)."
NODE_HELP = "Node id in the inventory (default: this host's name, as the daemon uses)."


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(value)
    except ValueError as e:
        raise click.BadParameter(f"expected an ISO 8601 time, found {value!r}",
                                 param_hint="--now") from e
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@contextmanager
def _store(ctx: click.Context, url: str | None) -> Iterator[Store]:
    from inventory.store import Store

    store = Store.open(url or default_inventory_url(_state_dir(ctx)))
    try:
        yield store
    finally:
        store.close()


def _node(node: str | None) -> str:
    return node or socket.gethostname()


def _keyring_path(ctx: click.Context, path: Path | None) -> Path:
    return path or _state_dir(ctx) / "keys"


inventory_opt = click.option("--inventory", "inventory_url", default=None, metavar="URL",
                             help=INVENTORY_HELP)
node_opt = click.option("--node", default=None, help=NODE_HELP)
keyring_opt = click.option("--keyring", "keyring_path", type=click.Path(path_type=Path),
                           default=None, help="Keyring file or key directory "
                           "(default: keys/ in the state dir).")


# ---------------------------------------------------------------- policy

@click.group("policy")
def policy() -> None:
    """Check, test and explain policies (for CI and operators)."""


@policy.command("check")
@click.argument("directory", type=click.Path(path_type=Path))
@handle_errors
def policy_check(directory: Path) -> None:
    """Validate a policy directory: errors with file:line (exit 2), warnings."""
    from policies.loader import check

    loaded, errors, warnings = check(directory)
    for w in warnings:
        click.echo(str(w), err=True)
    if errors or loaded is None:
        for e in errors:
            click.echo(str(e), err=True)
        click.echo(f"policy check: {len(errors)} error(s) in {directory}", err=True)
        sys.exit(EXIT_ERROR)
    p = loaded.policy
    click.echo(f"policy check: OK: {len(loaded.files)} file(s), {len(p.roots)} root(s), "
               f"{len(p.rules)} rule(s), {len(p.red_lines)} red line(s), mode {p.mode.value}; "
               f"revision {loaded.revision}; {len(warnings)} warning(s)")


@policy.command("test")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("-q", "--quiet", is_flag=True, help="Only print failures and the summary.")
@handle_errors
def policy_test(directory: Path, quiet: bool) -> None:
    """Run the policy unit tests kept next to the policy (exit 1 on a mismatch)."""
    from policies.testing import run_policy_tests

    results = run_policy_tests(directory)
    failed = [r for r in results if not r.passed]
    for r in results:
        if not quiet or not r.passed:
            click.echo(str(r))
    click.echo(f"policy test: {len(results) - len(failed)} passed, {len(failed)} failed")
    if not results:
        click.echo("policy test: no test cases found (*_test.yaml or tests/*.yaml)", err=True)
        sys.exit(EXIT_FINDINGS)
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


@policy.command("explain")
@click.argument("path")
@click.option("--policy", "policy_dir", type=click.Path(path_type=Path), required=True,
              help="Policy directory.")
@inventory_opt
@node_opt
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="Evaluate at this time instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
@handle_errors
def policy_explain(ctx: click.Context, path: str, policy_dir: Path, inventory_url: str | None,
                   node: str | None, now_text: str | None, as_json: bool) -> None:
    """Which rule applies to this inventoried file, why, and its deadlines."""
    from daemon.actions.explain import explain, render
    from policies.loader import load_policy

    loaded = load_policy(policy_dir)
    with _store(ctx, inventory_url) as store:
        doc = explain(store, _node(node), os.path.abspath(path), loaded, _now(now_text),
                      _state_dir(ctx))
    if doc is None:
        click.echo(f"{path}: not in the inventory of node {_node(node)!r} (scan it first)",
                   err=True)
        sys.exit(EXIT_FINDINGS)
    click.echo(json.dumps(doc, indent=2) if as_json else render(doc))


# ---------------------------------------------------------------- keys

@click.group("keys")
def keys() -> None:
    """Manage the key-encryption keys (KEKs) of encryption at rest."""


@keys.command("generate")
@keyring_opt
@click.option("--file", "as_file", is_flag=True,
              help="Write one keyring file (0600) instead of a key directory (0700).")
@click.pass_context
@handle_errors
def keys_generate(ctx: click.Context, keyring_path: Path | None, as_file: bool) -> None:
    """Create a keyring with one fresh active KEK (refuses to replace one)."""
    from daemon.crypto import generate_keyring

    path = _keyring_path(ctx, keyring_path)
    kr = generate_keyring(path, directory=not as_file)
    click.echo(f"generated keyring {path}: active KEK {kr.active_id}")


@keys.command("rotate")
@keyring_opt
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path),
              help="Tree to rewrap (repeatable).")
@inventory_opt
@node_opt
@click.pass_context
@handle_errors
def keys_rotate(ctx: click.Context, keyring_path: Path | None, roots: tuple[Path, ...],
                inventory_url: str | None, node: str | None) -> None:
    """New active KEK; rewrap every encrypted file under --root and every one the
    inventory knows (headers only, data untouched)."""
    from daemon.crypto import rewrap_file, rotate

    path = _keyring_path(ctx, keyring_path)
    report = rotate(path, roots)
    with _store(ctx, inventory_url) as store:
        known = _encrypted_files(store, _node(node))
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
@keyring_opt
@click.option("--root", "roots", multiple=True, type=click.Path(path_type=Path),
              help="Tree to check for files still using the KEK (repeatable).")
@inventory_opt
@node_opt
@click.pass_context
@handle_errors
def keys_retire(ctx: click.Context, kek_id: str, keyring_path: Path | None,
                roots: tuple[Path, ...], inventory_url: str | None, node: str | None) -> None:
    """Remove a KEK once no encrypted file (under --root or in the inventory) uses it."""
    from daemon.crypto import retire

    with _store(ctx, inventory_url) as store:
        files = _encrypted_files(store, _node(node))
    kr = retire(_keyring_path(ctx, keyring_path), kek_id, roots=roots, files=files)
    click.echo(f"retired KEK {kek_id}; active KEK {kr.active_id}, {len(kr.keys)} KEK(s) left "
               f"(checked {len(files)} inventoried file(s), {len(roots)} root(s))")


def _encrypted_files(store: Store, node: str) -> list[Path]:
    return [Path(a.path) for a in store.iter_assets(node, include_deleted=False)
            if a.encryption_state == "encrypted" and os.path.lexists(a.path)]


# ---------------------------------------------------------------- decrypt

@click.command("decrypt")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Write the plaintext here and keep the ciphertext (default: in place).")
@keyring_opt
@inventory_opt
@node_opt
@click.pass_context
@handle_errors
def decrypt(ctx: click.Context, path: Path, out: Path | None, keyring_path: Path | None,
            inventory_url: str | None, node: str | None) -> None:
    """Restore an encrypted file for an authorized operator (recorded in the audit chain)."""
    from daemon.actions.context import ActionContext
    from daemon.actions.decrypt import decrypt_for_operator, operator_name
    from daemon.crypto import load_keyring

    keyring = load_keyring(_keyring_path(ctx, keyring_path))
    with _store(ctx, inventory_url) as store:
        actx = ActionContext(store, _node(node), _state_dir(ctx), keyring)
        result = decrypt_for_operator(actx, os.path.abspath(path),
                                      out=os.path.abspath(out) if out else None,
                                      operator=operator_name(), now=datetime.now(UTC))
    click.echo(f"decrypted {path} -> {result} (recorded in the audit chain)")


# ---------------------------------------------------------------- quarantine

@click.group("quarantine")
def quarantine() -> None:
    """List and restore quarantined files (root only)."""


@quarantine.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def quarantine_list(ctx: click.Context, as_json: bool) -> None:
    """Every quarantined file: id, when, rule, original path."""
    from daemon.actions import Quarantine

    entries = Quarantine.in_state_dir(_state_dir(ctx)).entries()
    if as_json:
        click.echo(json.dumps([{"id": e.id, "has_data": e.has_data, **e.meta}
                               for e in entries], indent=2))
        return
    if not entries:
        click.echo("quarantine is empty")
    for e in entries:
        m = e.meta
        click.echo(f"{e.id}  {m.get('quarantined_at')}  rule {m.get('rule')}  "
                   f"{m.get('size')} bytes  {m.get('original_path')}"
                   + ("" if e.has_data else "  (DATA MISSING)"))


@quarantine.command("restore")
@click.argument("qid", metavar="ID")
@click.option("--to", "to", default=None, help="Restore here instead of the original path.")
@inventory_opt
@node_opt
@click.pass_context
@handle_errors
def quarantine_restore(ctx: click.Context, qid: str, to: str | None,
                       inventory_url: str | None, node: str | None) -> None:
    """Move a quarantined file back (never overwriting). If the policy still
    quarantines it, the daemon will quarantine it again: restore with --to a
    place outside every root, or change the policy first."""
    from daemon.actions import Quarantine, restore
    from daemon.actions.context import ActionContext
    from daemon.actions.decrypt import operator_name

    q = Quarantine.in_state_dir(_state_dir(ctx))
    now = datetime.now(UTC)
    with _store(ctx, inventory_url) as store:
        actx = ActionContext(store, _node(node), _state_dir(ctx))
        meta = q.read_meta(qid)
        dest = restore(actx, q, qid, to=os.path.abspath(to) if to else None, now=now)
        actx.audit("quarantine-restore", dest, {"id": qid, "operator": operator_name(),
                                                "original_path": meta.get("original_path")},
                   meta.get("policy_revision"), now)
    click.echo(f"restored {qid} -> {dest}")


# ---------------------------------------------------------------- session

@click.group("session")
def session() -> None:
    """Agent sessions (retention can count from a session's end)."""


@session.command("end")
@click.argument("session_id", metavar="ID")
@click.option("--policy", "policy_dir", type=click.Path(path_type=Path), default=None,
              help="Policy directory, to find the session directory of a session label.")
@inventory_opt
@node_opt
@click.pass_context
@handle_errors
def session_end(ctx: click.Context, session_id: str, policy_dir: Path | None,
                inventory_url: str | None, node: str | None) -> None:
    """End a session now. ID is the session directory (absolute path) or its
    {session} label (then --policy is needed to find the directory)."""
    from daemon.actions.enforcer import Enforcer

    now = datetime.now(UTC)
    with _store(ctx, inventory_url) as store:
        directory, label = _session_directory(store, _node(node), session_id, policy_dir)
        end = Enforcer(_state_dir(ctx)).end_session(store, _node(node), directory, label, now)
    click.echo(f"session {label or directory} ended at {end.ended_at.isoformat()} "
               f"({end.why}); directory {directory}")


def _session_directory(store: Store, node: str, session_id: str,
                       policy_dir: Path | None) -> tuple[str, str | None]:
    if session_id.startswith("/"):
        return os.path.normpath(session_id), None
    if policy_dir is None:
        raise click.UsageError("a session label needs --policy DIR (or pass the directory)")
    from policies.evaluate import match_root
    from policies.loader import load_policy

    loaded = load_policy(policy_dir)
    dirs = {m.directory for a in store.iter_assets(node, include_deleted=False)
            if a.session == session_id and (m := match_root(a.path, loaded)) is not None}
    if len(dirs) != 1:
        found = ", ".join(sorted(dirs)) or "none"
        raise click.UsageError(f"session {session_id!r}: expected one session directory in "
                               f"the inventory, found {found}; pass the directory instead")
    return dirs.pop(), session_id


# ---------------------------------------------------------------- audit

@click.group("audit")
def audit() -> None:
    """The hash-chained audit log in the inventory."""


@audit.command("verify")
@node_opt
@inventory_opt
@click.pass_context
@handle_errors
def audit_verify(ctx: click.Context, node: str | None, inventory_url: str | None) -> None:
    """Recompute every chain (or one node's); exit 1 at the first bad entry."""
    with _store(ctx, inventory_url) as store:
        nodes = [node] if node else store.audit_nodes()
        results = [store.verify_audit(n) for n in nodes]
    bad = 0
    for r in results:
        if r.ok:
            head = f"head seq {r.head.seq} {r.head.hash[:16]}" if r.head else "empty"
            click.echo(f"node {r.node}: intact, {r.entries} entries, {head}")
        else:
            bad += 1
            click.echo(f"node {r.node}: TAMPERED: first bad seq {r.first_bad_seq}: "
                       f"{r.problem}", err=True)
    if not results:
        click.echo("no audit entries")
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


COMMANDS: tuple[click.Command, ...] = (policy, keys, decrypt, quarantine, session, audit)


def register(group: click.Group) -> None:
    """Add every command of this module to the ``scratchwarden`` group."""
    for cmd in COMMANDS:
        group.add_command(cmd)
