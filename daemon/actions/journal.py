"""Replay of unfinished journal intents, on daemon start.

Every destructive action writes an intent (``Store.journal_intent``) before it
touches a file and finishes it (``done`` / ``rolled_back``) after. An intent
still open at start means the daemon died in between; ``replay`` settles each
one from what is on disk, idempotently (running it twice changes nothing the
second time), and audits the outcome. Per action see ``retention``,
``encrypt``, ``quarantine`` and ``decrypt``. Replay never deletes a file the
action had not already moved, unlinked or durably copied.

Run it before the first tick and before watching starts: ``recover`` must not
race a live encryption in the same directory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.actions import decrypt, encrypt, quarantine, retention
from daemon.actions.context import ActionContext, Hook
from daemon.crypto import Keyring
from inventory.store import Store
from scratchwarden.errors import ScratchwardenError

log = logging.getLogger("scratchwarden.actions")

Settle = Callable[[ActionContext, str, dict[str, Any], datetime], str]
SETTLERS: dict[str, Settle] = {
    retention.ACTION: retention.replay_delete,
    encrypt.ACTION: encrypt.replay_encrypt,
    quarantine.ACTION: quarantine.replay_quarantine,
    quarantine.RESTORE: quarantine.replay_restore,
    decrypt.ACTION: decrypt.replay_decrypt,
}
NEEDS_KEYRING = frozenset({encrypt.ACTION, decrypt.ACTION})


@dataclass
class ReplayReport:
    done: list[tuple[str, str]] = field(default_factory=list)
    rolled_back: list[tuple[str, str]] = field(default_factory=list)
    left_pending: list[tuple[str, str, str]] = field(default_factory=list)


def replay(store: Store, node: str, keyring: Keyring | None, *,
           state_dir: str | Path = ".", now: datetime | None = None,
           hooks: Hook | None = None) -> ReplayReport:
    """Complete or roll back every unfinished intent of ``node``."""
    ctx = ActionContext(store, node, Path(state_dir), keyring, hooks)
    report = ReplayReport()
    for intent in store.pending_intents(node):
        when = now or datetime.now(UTC)
        details = dict(intent.details or {})
        settle = SETTLERS.get(intent.action)
        if settle is None or (intent.action in NEEDS_KEYRING and keyring is None):
            why = "unknown action" if settle is None else "no keyring to verify with"
            log.warning("journal intent left pending", extra={"id": intent.id, "why": why})
            report.left_pending.append((intent.action, intent.path, why))
            continue
        try:
            state = settle(ctx, intent.path, details, when)
        except (ScratchwardenError, OSError) as e:
            log.error("journal replay failed", extra={"id": intent.id, "error": str(e)})
            report.left_pending.append((intent.action, intent.path, str(e)))
            continue
        store.journal_finish(intent.id, state, now=when)
        (report.done if state == "done" else report.rolled_back).append(
            (intent.action, intent.path))
        ctx.audit("replay", intent.path, {"action": intent.action, "journal_id": intent.id,
                                          "result": state},
                  details.get("policy_revision"), when)
    return report
