"""What every action needs: the inventory, this node, the state directory, the
keyring, the crash-test hook, and the one way to write an audit entry.

Audit payloads carry paths, rule names, class and entity type names, times,
ids and reason codes; never file contents or detected values."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from daemon.crypto import Keyring
from inventory.store import Store
from policies.decision import Revision

log = logging.getLogger("scratchwarden.actions")

Hook = Callable[[str], None]
Result = Literal["done", "skipped", "rolled_back", "failed", "audit"]


def revision_text(rev: Revision) -> str:
    """The full policy revision as stored in the inventory and audit chain:
    ``git:<commit>[+dirty] sha256:<content hash>`` (``no-git`` outside git)."""
    commit = f"git:{rev.commit}{'+dirty' if rev.dirty else ''}" if rev.commit else "no-git"
    return f"{commit} sha256:{rev.content_hash}"


def _no_hook(step: str) -> None:
    """Default hook: nothing."""


@dataclass
class ActionContext:
    store: Store
    node: str
    state_dir: Path
    keyring: Keyring | None = None
    hooks: Hook | None = None

    def hook(self, step: str) -> None:
        (self.hooks or _no_hook)(step)

    def audit(self, kind: str, subject: str, payload: Mapping[str, Any],
              revision: str | None, now: datetime) -> int:
        return self.store.append_audit(self.node, kind, subject, dict(payload), revision,
                                       now=now)


@dataclass(frozen=True)
class Outcome:
    """What happened to one action. ``reason`` is a short stable code
    (``in-use``, ``hardlinked``, ``directory-locked``...), never content."""

    action: str
    path: str
    result: Result
    reason: str = ""
    new_path: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
