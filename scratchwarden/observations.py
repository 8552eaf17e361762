"""Plain records handed to the inventory by the scanner. No detected value ever
appears here: a finding is a type, a location, a score, and at most a keyed
HMAC fingerprint of the value."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class FileStatus(enum.StrEnum):
    SCANNED = "scanned"          # content read and analysed
    UNSCANNABLE = "unscannable"  # tried and failed; ``reason`` says why (never "clean")
    SKIPPED = "skipped"          # deliberately not read: socket, FIFO, device, symlink
    DELETED = "deleted"          # gone from disk; the row stays for history


class Finding(NamedTuple):
    """One detected entity. ``start``/``end`` are character offsets into the text
    of the unit named by ``locator`` (``None``: the file's own decoded text).

    A named tuple, not a frozen dataclass: immutable and compared by value
    the same way, but much cheaper to build and to unpickle, and a worker
    builds tens of thousands per corpus that the parent unpickles (ADR 0006)."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    locator: str | None = None
    fingerprint: str | None = None  # keyed HMAC-SHA256 hex of the normalised value
    # where the finding starts in the file's decoded text, for text formats read
    # from the file itself: 1-based line and column, 0-based character offset
    line: int | None = None
    column: int | None = None
    offset: int | None = None

    def __reduce_ex__(self, protocol: object) -> tuple[type[Finding], tuple[object, ...]]:
        # a plain constructor call, asked for directly: the named tuple's own
        # pickling goes through copyreg and ``__getnewargs__``, about twice
        # the cost per finding (ADR 0006's log has the figures)
        return (Finding, tuple(self))


@dataclass(frozen=True, slots=True)
class FileObservation:
    """What one scan learned about one file."""

    path: str
    status: FileStatus
    reason: str | None = None
    size: int | None = None
    mime: str | None = None
    inode: int | None = None
    device: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    scan_seconds: float | None = None
    cpu_seconds: float | None = None  # CPU time the scanning process spent on it
