"""The per-file scan pipeline, shared by ``scratchwarden scan`` and the daemon:

    stat -> extract text (by content) -> detect -> findings with locators and
    fingerprints -> FileObservation

Values exist only inside ``_findings_for`` long enough to fingerprint them;
nothing returned or raised carries one. Every failure becomes a recorded
status with a reason: a file that could not be scanned is never "clean"."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.fingerprint import Fingerprinter
from daemon.scan.cache import CachedScan, ScanCache
from daemon.scan.segments import Limits, Segment
from inventory.records import FileObservation, FileStatus, Finding
from policies.errors import FileError, Skipped, Unscannable

log = logging.getLogger(__name__)

HASH_CHUNK = 1 << 20


class RawFindingLike(Protocol):
    @property
    def entity_type(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def score(self) -> float: ...
    @property
    def recognizer(self) -> str: ...


class DetectorLike(Protocol):
    def detect(self, text: str, context: Sequence[str] = ...) -> Sequence[RawFindingLike]: ...


def non_regular_reason(mode: int) -> str | None:
    """Why this file is recorded as skipped, never read (None: a regular file).
    One vocabulary with extraction, which checks again after opening."""
    from daemon.scan.extract import special_kind

    return special_kind(mode)


def sha256_file(path: str) -> str:
    from daemon.safefs import open_nofollow

    h = hashlib.sha256()
    fd = open_nofollow(path)
    try:
        while chunk := os.read(fd, HASH_CHUNK):
            h.update(chunk)
    finally:
        os.close(fd)
    return h.hexdigest()


@dataclass
class Scanner:
    """Holds what is expensive to build once per process: the detector (NER
    model), the fingerprint key, and a bounded cache of results by content
    hash (``cache=None`` disables it), so a duplicate file is scanned once."""

    detector: DetectorLike
    fingerprinter: Fingerprinter
    limits: Limits = field(default_factory=Limits)
    cache: ScanCache | None = field(default_factory=ScanCache)

    def scan(self, path: str, st: os.stat_result | None = None) -> FileObservation:
        t0, c0 = time.monotonic(), time.process_time()
        try:
            st = st or os.lstat(path)
        except OSError as e:
            return FileObservation(path, FileStatus.UNSCANNABLE, reason=_os_reason(e))
        base = _stat_fields(st)
        skip = non_regular_reason(st.st_mode)
        if skip:
            return FileObservation(path, FileStatus.SKIPPED, reason=skip, **base)

        def obs(status: FileStatus, **kw: Any) -> FileObservation:
            return FileObservation(path, status, scan_seconds=time.monotonic() - t0,
                                   cpu_seconds=time.process_time() - c0, **base, **kw)

        digest: str | None = None
        try:
            digest = sha256_file(path)
            mime, findings, partial = self._cached_or_scanned(path, digest, st)
        except ScanTimeout as e:
            return obs(FileStatus.UNSCANNABLE, reason=e.reason, mime=e.mime, sha256=digest,
                       findings=tuple(e.findings))
        except FileError as e:
            status = FileStatus.SKIPPED if isinstance(e, Skipped) else FileStatus.UNSCANNABLE
            return obs(status, reason=e.reason)
        except OSError as e:
            return obs(FileStatus.UNSCANNABLE, reason=_os_reason(e))
        except Exception as e:  # noqa: BLE001 - one bad file never stops a run
            log.warning("scan failed", extra={"path": path, "error_type": type(e).__name__})
            return obs(FileStatus.UNSCANNABLE, reason="internal-error")
        return obs(FileStatus.SCANNED, mime=mime, sha256=digest, reason=partial,
                   findings=tuple(findings))

    def _cached_or_scanned(self, path: str, digest: str, st: os.stat_result
                           ) -> tuple[str, Sequence[Finding], str | None]:
        """The cached result for this content, else a fresh scan (cached only if
        the file did not change while it was read, so a result is never filed
        under the hash of other content)."""
        suffix = os.path.splitext(path)[1].lower()
        hit = self.cache.get(digest, suffix) if self.cache is not None else None
        if hit is not None:
            return hit.mime, hit.findings, hit.partial
        mime, findings, partial = self._extract_and_detect(path)
        if self.cache is not None and _unchanged(path, st):
            self.cache.put(digest, suffix, CachedScan(mime, tuple(findings), partial))
        return mime, findings, partial

    def _extract_and_detect(self, path: str) -> tuple[str, list[Finding], str | None]:
        from daemon.scan.extract import extract_file

        extraction = extract_file(path, self.limits)
        deadline = time.monotonic() + self.limits.max_scan_seconds
        seen: dict[tuple[str | None, int, int, str], Finding] = {}

        def keep(findings: Iterable[Finding]) -> None:
            for f in findings:
                key = (f.locator, f.start, f.end, f.entity_type)
                old = seen.get(key)
                if old is None or f.score > old.score:
                    seen[key] = f

        held: tuple[Segment, list[Finding]] | None = None
        try:
            for seg in extraction.segments:  # type: ignore[attr-defined]
                if time.monotonic() > deadline:
                    raise ScanTimeout(_ordered(seen), extraction.mime)
                found = list(self._findings_for(seg))
                if held is not None:
                    keep(_trim_overlap(held[0], held[1], seg))
                held = (seg, found)
        finally:
            close = getattr(extraction.segments, "close", None)
            if close is not None:
                close()
        if held is not None:
            keep(held[1])
        return extraction.mime, _ordered(seen), extraction.partial_reason

    def _findings_for(self, seg: Segment) -> Iterable[Finding]:
        for raw in self.detector.detect(seg.text, tuple(seg.context)):
            value = seg.text[raw.start:raw.end]
            yield Finding(
                entity_type=raw.entity_type,
                start=seg.base + raw.start,
                end=seg.base + raw.end,
                score=round(float(raw.score), 4),
                recognizer=raw.recognizer,
                locator=seg.locate(raw.start),
                fingerprint=self.fingerprinter(value),
            )


class ScanTimeout(Unscannable):
    """The per-file time budget ran out; ``findings`` holds what was found."""

    def __init__(self, findings: list[Finding], mime: str) -> None:
        super().__init__("scan-timeout", "per-file scan time budget exceeded; scanned in part")
        self.findings = findings
        self.mime = mime


def _ordered(seen: dict[tuple[str | None, int, int, str], Finding]) -> list[Finding]:
    return sorted(seen.values(), key=lambda f: (f.locator or "", f.start, f.entity_type))


def _trim_overlap(seg: Segment, found: list[Finding], nxt: Segment) -> list[Finding]:
    """Streamed pieces of one text overlap: a finding that starts in the part
    the next piece repeats is left to the next piece, which sees it whole
    (a value cut by this piece's end would otherwise be reported twice)."""
    end = seg.base + len(seg.text)
    if nxt.locator != seg.locator or not seg.base < nxt.base < end:
        return found
    return [f for f in found if f.start < nxt.base]


def _unchanged(path: str, before: os.stat_result) -> bool:
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return (now.st_ino, now.st_size, now.st_mtime_ns) == \
        (before.st_ino, before.st_size, before.st_mtime_ns)


def _stat_fields(st: os.stat_result) -> dict[str, Any]:
    return {"size": st.st_size, "inode": st.st_ino, "device": st.st_dev,
            "mtime_ns": st.st_mtime_ns}


def _os_reason(e: OSError) -> str:
    import errno

    return {
        errno.EACCES: "permission-denied",
        errno.EPERM: "permission-denied",
        errno.ENOENT: "vanished",
        errno.ELOOP: "symlink",
        errno.EIO: "io-error",
    }.get(e.errno or 0, "os-error")
