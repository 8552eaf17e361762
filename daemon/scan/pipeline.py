"""The per-file scan pipeline, shared by ``scratchwarden scan`` and the daemon:

    stat -> extract text (by content) -> detect -> findings with locators and
    fingerprints -> FileObservation

Values exist only inside ``_findings_for`` long enough to fingerprint them;
nothing returned or raised carries one. Every failure becomes a recorded
status with a reason: a file that could not be scanned is never "clean"."""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from daemon.platform.fingerprint import Fingerprinter
from daemon.scan.cache import CachedScan, ScanCache
from daemon.scan.segments import Limits, Segment
from scratchwarden.errors import FileError, ScanTimeout, Skipped
from scratchwarden.observations import FileObservation, FileStatus, Finding

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
    def detect(self, text: str, context: Sequence[str] = ...,
               ner_text: str | None = ...) -> Sequence[RawFindingLike]: ...


def non_regular_reason(mode: int) -> str | None:
    """Why this file is recorded as skipped, never read (None: a regular file).
    One vocabulary with extraction, which checks again after opening."""
    from daemon.scan.extract import special_kind

    return special_kind(mode)


def sha256_file(path: str) -> str:
    from daemon.platform.files import open_nofollow

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

    def scan_many(self, paths: Sequence[str]) -> list[FileObservation]:
        """``scan`` for several small files in one call (one worker task): one
        observation per path, in order, with the same status, findings, mime,
        hash and reason ``scan(path)`` gives; NER runs once over the text of
        all of them (``Detector.detect_many``: shared spaCy batches).

        Only regular files of at most ``MANY_MAX_FILE_BYTES`` whose extracted
        text is at most ``MANY_MAX_TEXT_CHARS`` are batched; any other path
        (big, not regular, cached, failing extraction) goes through ``scan``
        on its own. If detection fails for the batch, every batched file is
        scanned on its own, so one bad file only fails itself. ``scan_seconds``
        and ``cpu_seconds`` of a batched file are the batch's, shared in
        proportion to text length. Meant for bursts of small files (the
        daemon's many small writes); big files gain nothing from it."""
        detect_many = getattr(self.detector, "detect_many", None)
        if detect_many is None:
            return [self.scan(p) for p in paths]
        t0, c0 = time.monotonic(), time.process_time()
        out: list[FileObservation | None] = []
        batch: list[tuple[int, _Batched]] = []
        for path in paths:
            item = self._batchable(path)
            if item is None:
                out.append(self.scan(path))
            else:
                out.append(None)
                batch.append((len(out) - 1, item))
        if batch:
            for i, obs in zip([i for i, _ in batch], self._scan_batched(
                    [b for _, b in batch], detect_many, t0, c0), strict=True):
                out[i] = obs
        return [o for o in out if o is not None]

    def _batchable(self, path: str) -> _Batched | None:
        """The file's extracted segments when it can join a batch, else None."""
        from daemon.scan.extract import extract_file

        try:
            st = os.lstat(path)
            if non_regular_reason(st.st_mode) or st.st_size > MANY_MAX_FILE_BYTES:
                return None
            digest = sha256_file(path)
            suffix = os.path.splitext(path)[1].lower()
            if self.cache is not None and self.cache.get(digest, suffix) is not None:
                return None
            extraction = extract_file(path, self.limits)
            segments = _take_segments(extraction.segments, MANY_MAX_TEXT_CHARS)
        except Exception:  # noqa: BLE001 - scan() records the reason
            return None
        if segments is None:
            return None
        return _Batched(path, st, digest, suffix, extraction.mime, segments,
                        extraction.partial_reason)

    def _scan_batched(self, batch: list[_Batched], detect_many: Any, t0: float, c0: float
                      ) -> list[FileObservation]:
        items = [(seg.blanked(_FULLY_KNOWN), tuple(seg.context),
                  seg.ner_text() if seg.known else None) for b in batch for seg in b.segments]
        try:
            raws = iter(detect_many(items))
            per_file = [[next(raws) for _ in b.segments] for b in batch]
        except Exception:  # noqa: BLE001 - scan each on its own: a bad file fails only itself
            return [self.scan(b.path) for b in batch]
        wall, cpu = time.monotonic() - t0, time.process_time() - c0
        total = max(1, sum(len(seg.text) for b in batch for seg in b.segments))
        out = []
        for b, found in zip(batch, per_file, strict=True):
            findings = self._batched_findings(b, found)
            if self.cache is not None and _unchanged(b.path, b.st):
                self.cache.put(b.digest, b.suffix, CachedScan(b.mime, tuple(findings), b.partial))
            share = sum(len(seg.text) for seg in b.segments) / total
            out.append(FileObservation(b.path, FileStatus.SCANNED, scan_seconds=wall * share,
                                       cpu_seconds=cpu * share, mime=b.mime, sha256=b.digest,
                                       reason=b.partial, findings=tuple(findings),
                                       **_stat_fields(b.st)))
        return out

    def _batched_findings(self, b: _Batched, found: list[Sequence[RawFindingLike]]
                          ) -> list[Finding]:
        """As ``_extract_and_detect`` does per segment, from precomputed detections."""
        merged = _SegmentMerge()
        for seg, raws in zip(b.segments, found, strict=True):
            merged.add(seg, list(self._findings_from(seg, raws)))
        return merged.result()

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
        merged = _SegmentMerge()
        try:
            for seg in extraction.segments:  # type: ignore[attr-defined]
                if time.monotonic() > deadline:
                    raise ScanTimeout(merged.so_far(), extraction.mime)
                merged.add(seg, list(self._findings_for(seg)))
        finally:
            close = getattr(extraction.segments, "close", None)
            if close is not None:
                close()
        return extraction.mime, merged.result(), extraction.partial_reason

    def _findings_for(self, seg: Segment) -> Iterable[Finding]:
        if not seg.known:
            return self._findings_from(seg, self.detector.detect(seg.text, tuple(seg.context)))
        return self._findings_from(seg, self.detector.detect(
            seg.blanked(_FULLY_KNOWN), tuple(seg.context), ner_text=seg.ner_text()))

    def _findings_from(self, seg: Segment, raws: Iterable[RawFindingLike]) -> Iterable[Finding]:
        if seg.known:
            raws = _not_quieted(seg, list(raws))
        where = seg.positions() if seg.anchors else None
        if seg.known:
            raws = list(raws)
            detected = {(r.entity_type, r.start, r.end) for r in raws}
            raws += [k for k in _known_findings(seg)
                     if (k.entity_type, k.start, k.end) not in detected]
        for raw in raws:
            value = seg.text[raw.start:raw.end]
            at = where.at(raw.start) if where is not None else None
            yield Finding(
                entity_type=raw.entity_type,
                start=seg.base + raw.start,
                end=seg.base + raw.end,
                score=round(float(raw.score), 4),
                recognizer=raw.recognizer,
                locator=seg.locate(raw.start),
                fingerprint=self.fingerprinter(value),
                line=None if at is None else at.line,
                column=None if at is None else at.column,
                offset=None if at is None else at.offset,
            )


_FULLY_KNOWN = frozenset({"PERSON", "ADDRESS", "LOCATION", "EMAIL_ADDRESS"})
"""Types whose validated cells no detector reads: their validators admit no
digit run, token or ``@`` in which another kind of value could hide
(``columns.py``). Cells of the other types (phones, cards, SSNs ...) are
still read by the pattern recognizers: an SSN written into a phone column
is found as one."""


@dataclass(frozen=True, slots=True)
class _KnownFinding:
    """A finding the extractor made (a validated cell of a classified column)."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str


def _known_findings(seg: Segment) -> list[_KnownFinding]:
    from daemon.scan.columns import RECOGNIZER

    return [_KnownFinding(kind, start, end, score, RECOGNIZER)
            for start, end, kind, score in seg.known if kind]


def _not_quieted(seg: Segment, raws: list[RawFindingLike]) -> list[RawFindingLike]:
    """Drop NER's person/place guesses inside quiet cells (columns whose name
    says they hold products, categories, statuses: ``columns.NOT_A_PERSON``)."""
    from daemon.scan.columns import NER_GUESSES

    quiet = [(s, e) for s, e, kind, _ in seg.known if not kind]  # in text order
    if not quiet:
        return raws
    starts = [s for s, _ in quiet]

    def inside(r: RawFindingLike) -> bool:
        i = bisect.bisect_right(starts, r.start) - 1
        return i >= 0 and r.end <= quiet[i][1]

    return [r for r in raws if r.entity_type not in NER_GUESSES or not inside(r)]


MANY_MAX_FILE_BYTES = 64 * 1024
"""Largest file ``Scanner.scan_many`` batches; bigger ones are scanned alone."""
MANY_MAX_TEXT_CHARS = 256 * 1024
"""Most extracted text of one batched file (an archive can expand past its size)."""


@dataclass
class _Batched:
    """A small file extracted and waiting for the batch's detection."""

    path: str
    st: os.stat_result
    digest: str
    suffix: str
    mime: str
    segments: list[Segment]
    partial: str | None


def _take_segments(segments: object, max_chars: int) -> list[Segment] | None:
    """All segments, or None once their text exceeds ``max_chars`` (the
    generator is closed either way)."""
    taken: list[Segment] = []
    chars = 0
    try:
        for seg in segments:  # type: ignore[attr-defined]
            chars += len(seg.text)
            if chars > max_chars:
                return None
            taken.append(seg)
    finally:
        close = getattr(segments, "close", None)
        if close is not None:
            close()
    return taken


class _SegmentMerge:
    """One file's findings from its consecutive segments: the part of a
    segment's findings lying in the overlap with the next segment is trimmed
    (the next one sees it whole), and one finding is kept per (locator,
    start, end, type), the highest-scoring."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str | None, int, int, str], Finding] = {}
        self._held: tuple[Segment, list[Finding]] | None = None

    def add(self, seg: Segment, findings: list[Finding]) -> None:
        if self._held is not None:
            self._keep(_trim_overlap(self._held[0], self._held[1], seg))
        self._held = (seg, findings)

    def so_far(self) -> list[Finding]:
        """The findings of every segment but the last added (a scan cut short)."""
        return _ordered(self._seen)

    def result(self) -> list[Finding]:
        if self._held is not None:
            self._keep(self._held[1])
            self._held = None
        return _ordered(self._seen)

    def _keep(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            key = (f.locator, f.start, f.end, f.entity_type)
            old = self._seen.get(key)
            if old is None or f.score > old.score:
                self._seen[key] = f


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
