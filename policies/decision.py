"""The records that cross the pure boundary: what the shell knows about a file
(:class:`FileFacts`) and what the policy says to do about it (:class:`Decision`).

Neither holds a detected value: entities are counted and scored by type only."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from policies.schema import Mode


class Action(enum.StrEnum):
    """What the enforcer should do next. ``record`` only keeps the inventory
    row; ``none`` means the file is not governed (no root, excluded)."""

    NONE = "none"
    RECORD = "record"
    ENCRYPT = "encrypt"
    QUARANTINE = "quarantine"
    DELETE = "delete"


# When several actions are due at once, the strongest wins.
STRENGTH = {Action.NONE: 0, Action.RECORD: 1, Action.ENCRYPT: 2, Action.QUARANTINE: 3,
            Action.DELETE: 4}


@dataclass(frozen=True, slots=True)
class EntityStat:
    """Findings of one entity type in one file: how many, and the best score."""

    count: int
    max_score: float


@dataclass(frozen=True, slots=True)
class Revision:
    """Which policy produced a decision: the git commit of the policy directory
    (``None`` outside git), whether the checkout had uncommitted changes, and
    a sha256 over the policy files' names and bytes (always set)."""

    commit: str | None
    dirty: bool | None
    content_hash: str

    def __str__(self) -> str:
        commit = (self.commit[:12] + ("+dirty" if self.dirty else "")) if self.commit else "no-git"
        return f"{commit} sha256:{self.content_hash[:12]}"


_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_ENTITIES: Mapping[str, EntityStat] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FileFacts:
    """Everything the policy may look at for one file. Times are timezone-aware
    (naive ones are read as UTC). ``idle_since``: last change or access known to
    the daemon (defaults to the later of ``modified`` and ``last_access``)."""

    path: str
    root: str | None
    first_seen: datetime
    modified: datetime
    size: int = 0
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    entities: Mapping[str, EntityStat] = field(default_factory=lambda: _NO_ENTITIES)
    scan: str = "scanned"  # "scanned" | "unscannable"
    last_access: datetime | None = None
    session_ended_at: datetime | None = None
    idle_since: datetime | None = None
    encrypted: bool = False
    quarantined: bool = False
    relative: str | None = None  # path below the root directory, if known


@dataclass(frozen=True, slots=True)
class Step:
    """One scheduled action of a rule."""

    action: Action
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one file. ``action`` is the next thing to do and
    ``due_at`` when it becomes due (``None``: nothing scheduled); ``deadline`` is
    the retention deadline; ``pending`` lists every scheduled step; ``mode``
    audit means the enforcer only reports what it would do. ``reasons`` are
    for humans and never contain a detected value."""

    rule: str | None
    mode: Mode
    action: Action
    due_at: datetime | None
    deadline: datetime | None
    classes: tuple[str, ...]
    reasons: tuple[str, ...]
    revision: Revision
    root: str | None = None
    pending: tuple[Step, ...] = ()

    def is_due(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at <= now
