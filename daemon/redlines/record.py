"""Red-line evidence in the inventory's audit chain: launches, blocks and drills.

Kinds: ``redline-launch`` (what a ``scratchwarden run`` enforced or degraded,
recorded before the command is confined and exec'd), ``redline-launch-failed``
(the built ruleset could not be entered: the command never ran),
``redline-block`` / ``redline-audit`` (the guard blocked / observed an
access: red line, action, target path or port, pid, exe, uid, cgroup,
session, time), ``drill`` (one red line proven, or not). Never file contents.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

log = logging.getLogger(__name__)

BLOCK_FIELDS = ("action", "path", "port", "pid", "exe", "uid", "cgroup", "session", "reason",
                "outcome")


class AuditStore(Protocol):
    def append_audit(self, node: str, kind: str, subject: str, payload: Mapping[str, Any],
                     policy_revision: str | None, *, now: datetime | None = None) -> int: ...


class AuditRecorder:
    """Appends red-line events for one node and policy revision."""

    def __init__(self, store: AuditStore, node: str, policy_revision: str | None) -> None:
        self.store = store
        self.node = node
        self.policy_revision = policy_revision

    def append(self, kind: str, subject: str, payload: Mapping[str, Any],
               when: datetime | None = None) -> int:
        return self.store.append_audit(self.node, kind, subject, dict(payload),
                                       self.policy_revision, now=when)

    def block(self, event: Mapping[str, Any]) -> None:
        """A guard report (``RedLineGuard`` on_block sink)."""
        when = datetime.fromtimestamp(float(event.get("time") or 0), UTC) if event.get(
            "time") else datetime.now(UTC)
        payload = {k: event.get(k) for k in BLOCK_FIELDS if event.get(k) is not None}
        payload["target"] = payload.pop("path", None) or event.get("port")
        kind = "redline-audit" if event.get("outcome") == "audited" else "redline-block"
        self.append(kind, str(event.get("red_line_id") or "?"), payload, when)
