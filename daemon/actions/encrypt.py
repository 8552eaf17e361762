"""Encrypt a file at rest in place: ``x`` becomes ``x.swenc`` (daemon.crypto).

Order (hook steps; crash tests SIGKILL at each)::

    checks         as for every action (daemon.actions.preflight), plus: exactly
                   one hard link (a hard-linked file is never modified in place)
    journaled      intent written (directory, name, active KEK id, rule, revision)
    crypto:<step>  daemon.crypto's own steps (tmp-created ... done): the
                   plaintext is unlinked only after the ciphertext is durable
    recorded       inventory: the row moves to ``x.swenc`` (same asset: first
                   seen, findings, deadline follow) and is marked encrypted + KEK
    (journal done, audit entry "action")

The encryption runs relative to the directory fd we opened without following
symlinks, never by path.

Replay: ``daemon.crypto.recover`` settles the directory (temp files removed; a
plaintext/ciphertext pair that decrypts equal keeps the ciphertext), then the
journal is finished from what is on disk: only ``x.swenc`` -> done (inventory
updated); only ``x`` -> rolled back; both (they differ) -> kept, rolled back.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from daemon.actions.context import ActionContext, Outcome
from daemon.actions.preflight import Expected, Skip, exclusive
from daemon.actions.safepath import Target, open_target
from daemon.crypto import SUFFIX, Keyring, recover
from daemon.crypto.files import _encrypt_in  # private: see encrypt_at
from daemon.crypto.format import DEFAULT_CHUNK_SIZE
from scratchwarden.errors import FileError, UnsafePath

ACTION = "encrypt"
STEPS = ("journaled", "crypto:tmp-created", "crypto:tmp-written", "crypto:tmp-synced",
         "crypto:renamed", "crypto:dir-synced", "crypto:plaintext-removed", "crypto:done",
         "recorded")


def encrypt_at(target: Target, keyring: Keyring, ctx: ActionContext) -> None:
    """daemon.crypto's encryption relative to our safely opened directory fd.
    (``encrypt_file`` takes a path and re-opens the directory by name; it has
    no public dir-fd entry point yet.)

    Raises:
        FileError: reading or writing failed (``io-error``), or the file changed meanwhile.
    """
    try:
        _encrypt_in(target.dir_fd, target.name, target.name + SUFFIX, keyring,
                    DEFAULT_CHUNK_SIZE, lambda step: ctx.hook(f"crypto:{step}"))
    except OSError as e:
        raise FileError("io-error", f"encrypt {target.path}: {e.strerror}") from e


def encrypt_file_in_root(ctx: ActionContext, root_dir: str, path: str, expected: Expected, *,
                         rule: str | None, revision: str, now: datetime) -> Outcome:
    if ctx.keyring is None:
        return Outcome(ACTION, path, "skipped", "no-keyring")
    if path.endswith(SUFFIX):
        return Outcome(ACTION, path, "skipped", "already-encrypted")
    keyring = ctx.keyring
    kek_id = keyring.active_id
    entry: int | None = None
    details: dict[str, Any] = {}
    try:
        with open_target(root_dir, path) as target, \
                exclusive(target, expected, single_link=True):
            details = {"root_dir": root_dir, "kek_id": kek_id, "rule": rule,
                       "policy_revision": revision}
            entry = ctx.store.journal_intent(ctx.node, path, ACTION, now=now, details=details)
            ctx.hook("journaled")
            encrypt_at(target, keyring, ctx)
    except Skip as e:
        return Outcome(ACTION, path, "skipped", e.reason)
    except FileError as e:
        if entry is None:
            return Outcome(ACTION, path, "skipped", e.reason)
        state = replay_encrypt(ctx, path, details, now)
        ctx.store.journal_finish(entry, state, now=now)
        return Outcome(ACTION, path, "done" if state == "done" else "failed", e.reason)
    except FileNotFoundError:
        return Outcome(ACTION, path, "skipped", "gone")
    new_path = record_encrypted(ctx, path, kek_id, now)
    ctx.hook("recorded")
    ctx.store.journal_finish(entry, "done", now=now)
    return Outcome(ACTION, path, "done", new_path=new_path, details={"kek_id": kek_id})


def record_encrypted(ctx: ActionContext, path: str, kek_id: str | None, now: datetime) -> str:
    """The inventory row follows the ciphertext. Idempotent."""
    new_path = path + SUFFIX
    ctx.store.mark_renamed(ctx.node, path, new_path, now=now)
    ctx.store.set_encryption_state(ctx.node, new_path, "encrypted", now=now, kek_id=kek_id)
    return new_path


def replay_encrypt(ctx: ActionContext, path: str, details: dict[str, Any],
                   now: datetime) -> str:
    """Settle an unfinished encryption: ``done`` or ``rolled_back``. Without a
    keyring ``recover`` cannot verify a pair, so the caller leaves such intents
    pending (see ``daemon.actions.journal.replay``)."""
    root_dir = str(details["root_dir"])
    try:
        with open_target(root_dir, path) as target:
            enc = Target(root_dir, path + SUFFIX, target.name + SUFFIX, target.chain)
            if ctx.keyring is not None:
                recover(_proc_fd_dir(target), ctx.keyring, prefer="encrypted")
            plain_there, enc_there = target.lstat() is not None, enc.lstat() is not None
    except (FileNotFoundError, UnsafePath):
        return "rolled_back"
    if enc_there and not plain_there:
        record_encrypted(ctx, path, details.get("kek_id"), now)
        return "done"
    return "rolled_back"


def _proc_fd_dir(target: Target) -> str:
    """``recover`` takes a directory path; hand it our verified directory.
    The path is re-checked: it must still be the directory we hold."""
    st_fd = os.fstat(target.dir_fd)
    st_path = os.stat(target.parent, follow_symlinks=False)
    if (st_fd.st_dev, st_fd.st_ino) != (st_path.st_dev, st_path.st_ino):
        raise UnsafePath("directory-swapped", f"{target.parent} changed while settling it")
    return target.parent
