"""``scratchwarden decrypt``: restore an encrypted file for an authorized
operator, and record who did it (audit entry ``decrypt``).

In place (``x.swenc`` -> ``x``) the ciphertext is removed only once the
plaintext is durable (daemon.crypto), the step is journaled (replay settles it
with ``recover(prefer="plaintext")``), and the inventory row follows the file
back to ``x`` with encryption state ``plaintext``. Note that the policy still
applies: a rule that encrypts will encrypt the file again once it is idle.
With ``--out`` the ciphertext stays and nothing in the inventory changes.
"""

from __future__ import annotations

import getpass
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from daemon.actions.context import ActionContext
from daemon.crypto import SUFFIX, decrypt_file, recover
from daemon.crypto.rotation import kek_usage
from scratchwarden.errors import KeyMaterialError

ACTION = "decrypt"


def operator_name() -> str:
    """Who runs the command (``SUDO_USER`` first: root via sudo is a person)."""
    for var in ("SUDO_USER", "LOGNAME", "USER"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def decrypt_for_operator(ctx: ActionContext, path: str, *, out: str | None, operator: str,
                         now: datetime) -> Path:
    """Decrypt ``path`` for an operator and record it in the audit chain.

    Raises:
        KeyMaterialError: no keyring was given.
        CiphertextError: the file does not verify (left as it is).
    """
    if ctx.keyring is None:
        raise KeyMaterialError("decrypt: expected a keyring, found none")
    usage = kek_usage(files=[path])
    keks = sorted(k for k, files in usage.by_kek.items() if files)
    payload: dict[str, Any] = {"operator": operator, "out": out, "kek_ids": keks,
                               "in_place": out is None}
    if out is not None:
        result = decrypt_file(path, ctx.keyring, out)
        ctx.audit("decrypt", path, payload, None, now)
        return result
    entry = ctx.store.journal_intent(ctx.node, path, ACTION, now=now, details=payload)
    try:
        result = decrypt_file(path, ctx.keyring, hooks=ctx.hook)
    except BaseException:
        ctx.store.journal_finish(entry, replay_decrypt(ctx, path, payload, now), now=now)
        raise
    record_decrypted(ctx, path, now)
    ctx.store.journal_finish(entry, "done", now=now)
    ctx.audit("decrypt", path, payload, None, now)
    return result


def record_decrypted(ctx: ActionContext, path: str, now: datetime) -> None:
    plain = path[: -len(SUFFIX)]
    ctx.store.mark_renamed(ctx.node, path, plain, now=now)
    ctx.store.set_encryption_state(ctx.node, plain, "plaintext", now=now)


def replay_decrypt(ctx: ActionContext, path: str, details: dict[str, Any],
                   now: datetime) -> str:
    plain = path[: -len(SUFFIX)]
    if ctx.keyring is not None and os.path.isdir(os.path.dirname(path)):
        recover(os.path.dirname(path), ctx.keyring, prefer="plaintext")
    if os.path.lexists(plain) and not os.path.lexists(path):
        record_decrypted(ctx, path, now)
        return "done"
    return "rolled_back"
