"""Plain read-only records the store hands out. Callers never see ORM objects,
so nothing outside ``inventory`` can lazily load or accidentally write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from scratchwarden.errors import AuditError


class KnownFile(NamedTuple):
    """What a reconcile walk compares against ``stat`` to skip unchanged files."""

    inode: int | None
    size: int | None
    mtime_ns: int | None
    sha256: str | None


@dataclass(frozen=True, slots=True)
class Location:
    start: int
    end: int
    locator: str | None
    line: int | None = None      # text formats: where in the file (1-based line, column)
    column: int | None = None
    offset: int | None = None    # 0-based character offset into the decoded file


@dataclass(frozen=True, slots=True)
class FindingSummary:
    """All findings of one entity type in one asset: never a value."""

    entity_type: str
    count: int
    max_score: float
    recognizers: tuple[str, ...]
    locations: tuple[Location, ...]


@dataclass(frozen=True, slots=True)
class AssetView:
    id: int
    node: str
    root: str | None
    path: str
    inode: int | None
    device: int | None
    size: int | None
    mtime_ns: int | None
    sha256: str | None
    mime: str | None
    first_seen: datetime
    last_seen: datetime
    last_scanned: datetime | None
    status: str
    reason: str | None
    sensitivity: str | None
    classification: str | None
    owner: str | None
    session: str | None
    labels: dict[str, Any] | None
    rule: str | None
    deadline: datetime | None
    encryption_state: str
    kek_id: str | None
    policy_revision: str | None
    deleted_at: datetime | None
    deleted_reason: str | None
    findings: tuple[FindingSummary, ...]

    @property
    def entity_counts(self) -> dict[str, int]:
        return {f.entity_type: f.count for f in self.findings}


@dataclass(frozen=True, slots=True)
class EventView:
    asset_id: int
    path: str
    kind: str
    time: datetime
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class JournalView:
    id: int
    node: str
    path: str
    action: str
    state: str
    created: datetime
    finished: datetime | None
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class DrillView:
    id: int
    node: str
    red_line: str
    mechanism: str
    outcome: str
    time: datetime
    policy_revision: str | None
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The last link of a chain; keep it outside the database (e.g. in the
    journal of the host) to detect a truncated tail, which no chain can see."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    node: str
    ok: bool
    entries: int
    head: AuditHead | None
    first_bad_seq: int | None = None
    problem: str | None = None

    def raise_for_failure(self) -> None:
        """Nothing if the chain verified.

        Raises:
            AuditError: it does not verify (the first bad seq and why).
        """
        if not self.ok:
            raise AuditError(f"audit chain of node {self.node!r} does not verify at seq "
                             f"{self.first_bad_seq}: {self.problem}")
