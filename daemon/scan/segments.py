"""The contract between extraction and detection.

An extractor turns one file into a stream of ``Segment``s: text plus where it
came from. Detection runs over each segment's text; a finding's offsets are
character offsets into ``segment.text`` shifted by ``segment.base`` (so for a
plain-text file, offsets into the file's whole decoded text even when it is
streamed in pieces). ``locators`` map offsets inside the segment to a finer
locator (a JSON path, a CSV row/column, a page) for formats whose extracted
text is a concatenation of units.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds against hostile input. Every extractor honours them."""

    max_file_bytes: int = 64 * 1024 * 1024          # larger files: streamed text only, or too-large
    max_text_chars: int = 16 * 1024 * 1024          # extracted text cap per file
    max_archive_depth: int = 3                       # nested archives
    max_archive_members: int = 10_000
    max_archive_total_bytes: int = 256 * 1024 * 1024  # uncompressed, all members together
    max_compression_ratio: float = 100.0             # per member and overall
    max_sqlite_rows_per_table: int = 200             # sampled rows
    max_sqlite_tables: int = 200
    max_pdf_pages: int = 2_000
    max_mail_parts: int = 1_000
    segment_chars: int = 100_000                    # streamed plain-text piece size
    segment_overlap: int = 512                      # overlap between streamed pieces
    max_scan_seconds: float = 600.0                 # per file; past it: unscannable, partial
    classify_columns: bool = True                   # CSV columns, JSON keys by meaning


Known = tuple[int, int, str, float]
"""``(start, end, entity_type, score)``: see ``Segment.known``."""
Anchor = tuple[int, int, int, int, int]
"""``(start, end, file_offset, line, column)``: see ``Segment.anchors``."""
_MAX = 1 << 62


@dataclass(frozen=True, slots=True)
class Position:
    """Where a finding starts in the file's decoded text: 1-based line and
    column (in characters), and the 0-based character offset. Never a value."""

    line: int
    column: int
    offset: int


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of extracted text.

    ``locator``: the unit this text comes from, ``None`` for the file's own
    decoded text; e.g. ``"page=3"``, ``"member=inner.zip/a.csv"``.
    ``base``: offset of ``text[0]`` within that unit's text.
    ``context``: words that help the detector (CSV headers, JSON keys, table and
    column names); never values.
    ``locators``: sorted ``(offset_in_text, sub_locator)``; a finding at offset
    ``o`` gets the last sub-locator whose offset is ``<= o`` appended.
    """

    text: str
    locator: str | None = None
    base: int = 0
    context: tuple[str, ...] = ()
    locators: tuple[tuple[int, str], ...] = field(default_factory=tuple)
    anchors: tuple[Anchor, ...] = field(default_factory=tuple)
    """Where runs of ``text`` sit in the file's decoded text, for formats read
    from the file itself (plain text, JSON, NDJSON, CSV/TSV; not documents or
    archive members): sorted ``(start, end, file_offset, line, column)``, each
    saying that ``text[start:end]`` is a verbatim copy of the file's text
    from character ``file_offset`` (0-based), which is on ``line`` at
    ``column`` (both 1-based). Text between runs (a ``key: `` prefix) has no
    position."""

    known: tuple[Known, ...] = field(default_factory=tuple)
    """Findings already made by the extractor (``columns.py``: a cell of a
    classified column that passed its validator), sorted
    ``(start, end, entity_type, score)`` in ``text``; the detector does not
    read those characters (:meth:`ner_text`)."""

    def ner_text(self) -> str:
        """``text`` with the ``known`` spans blanked (same length, same offsets):
        what NER reads."""
        return self.blanked(None)

    def blanked(self, kinds: frozenset[str] | None) -> str:
        """``text`` with the ``known`` spans of these types blanked (``None``:
        of every type; a quiet cell is never blanked)."""
        if not self.known:
            return self.text
        parts, at = [], 0
        for start, end, kind, _ in self.known:
            if not kind or (kinds is not None and kind not in kinds):
                continue  # a quiet cell, or one the patterns must still read
            parts += [self.text[at:start], " " * (end - start)]
            at = end
        parts.append(self.text[at:])
        return "".join(parts)

    def position(self, offset: int) -> Position | None:
        """The file position of ``text[offset]``, or None (no run holds it).
        For many offsets of one segment use :meth:`positions`."""
        return self.positions().at(offset)

    def positions(self) -> Positions:
        """A lookup of file positions for this segment's offsets (its
        newlines are indexed once, on the first lookup)."""
        return Positions(self)

    def locate(self, offset: int) -> str | None:
        if not self.locators:
            return self.locator
        i = bisect.bisect_right(self.locators, (offset, "\U0010ffff")) - 1
        if i < 0:
            return self.locator
        sub = self.locators[i][1]
        return f"{self.locator};{sub}" if self.locator else sub


class Positions:
    """File positions of offsets into one segment's text: a bisect over the
    anchors, then over the text's newlines (indexed once, lazily), so a
    segment dense with findings costs O(text + findings log text), not a
    count of newlines per finding."""

    def __init__(self, seg: Segment) -> None:
        self._seg = seg
        self._newlines: list[int] | None = None

    def at(self, offset: int) -> Position | None:
        anchors = self._seg.anchors
        i = bisect.bisect_right(anchors, (offset, _MAX, _MAX, _MAX, _MAX)) - 1
        if i < 0:
            return None
        start, end, file_offset, line, column = anchors[i]
        if offset >= end:
            return None
        if self._newlines is None:
            self._newlines = _newline_index(self._seg.text)
        lo = bisect.bisect_left(self._newlines, start)
        hi = bisect.bisect_left(self._newlines, offset)
        if hi > lo:
            column = offset - self._newlines[hi - 1]
        else:
            column += offset - start
        return Position(line + hi - lo, column, file_offset + offset - start)


def _newline_index(text: str) -> list[int]:
    """Offsets of every ``\n`` (``str.find`` in C, one pass)."""
    out, at = [], text.find("\n")
    while at >= 0:
        out.append(at)
        at = text.find("\n", at + 1)
    return out


@dataclass(frozen=True, slots=True)
class Extraction:
    """The result of extracting one file: its sniffed MIME type and segments.
    ``segments`` may be a generator (large files are streamed)."""

    mime: str
    segments: object  # Iterable[Segment]; typed loosely so generators fit
    budget: object = None  # extract.source.Budget: counters read after iteration

    @property
    def partial_reason(self) -> str | None:
        """Why the text is incomplete though extraction succeeded, or None."""
        n = getattr(self.budget, "skipped_binary", 0)
        return f"partial: {n} binary member(s) not scanned" if n else None
