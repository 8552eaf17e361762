"""Plain records handed to the inventory by the scanner. No detected value ever
appears here: a finding is a type, a location, a score, and at most a keyed
HMAC fingerprint of the value."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class FileStatus(enum.StrEnum):
    SCANNED = "scanned"          # content read and analysed
    UNSCANNABLE = "unscannable"  # tried and failed; ``reason`` says why (never "clean")
    SKIPPED = "skipped"          # deliberately not read: socket, FIFO, device, symlink
    DELETED = "deleted"          # gone from disk; the row stays for history


@dataclass(frozen=True, slots=True)
class Finding:
    """One detected entity. ``start``/``end`` are character offsets into the text
    of the unit named by ``locator`` (``None``: the file's own decoded text)."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str
    locator: str | None = None
    fingerprint: str | None = None  # keyed HMAC-SHA256 hex of the normalised value

    def __reduce__(self) -> tuple[type[Finding], tuple[object, ...]]:
        # Workers send tens of thousands of findings back to the parent: the
        # dataclass's generated __getstate__/__setstate__ for slots cost ~3x
        # this plain constructor call on dump (measured, 15,800 findings).
        return (Finding, (self.entity_type, self.start, self.end, self.score,
                          self.recognizer, self.locator, self.fingerprint))


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
