"""Cutting extracted text into ``Segment``s of bounded size.

Two shapes: a stream of text (plain-text files, long values) is cut into
overlapping windows whose ``base`` is their offset in the whole text; a
sequence of located units (JSON values, CSV cells, table cells) is packed into
segments carrying ``locators``. Either way no segment grows past
``limits.segment_chars`` (plus one unit's line), so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from daemon.scan.segments import Anchor, Known, Limits, Segment
from scratchwarden.errors import Unscannable


def windows(chunks: Iterable[str], size: int, overlap: int) -> Iterator[tuple[int, str]]:
    """Cut the concatenation of ``chunks`` into windows of ``size`` chars,
    consecutive windows sharing ``overlap`` chars. Yields ``(offset, text)``.
    Holds at most ``size`` plus one chunk in memory."""
    size = max(size, 1)
    overlap = max(0, min(overlap, size // 2))
    step = size - overlap
    buf = ""
    pos = 0  # index in buf of the next window's start
    start = 0  # offset of buf[pos] in the whole text
    emitted = False
    for chunk in chunks:
        buf = buf[pos:] + chunk
        pos = 0
        while len(buf) - pos > size:
            yield start, buf[pos:pos + size]
            emitted = True
            pos += step
            start += step
    rest = buf[pos:]
    if rest and (not emitted or len(rest) > overlap):
        yield start, rest


Unit = tuple[str | None, str, list[Anchor], list[Known]]
"""A located unit: sub-locator, text, its file positions, its known findings."""


class SegmentPacker:
    """Packs located units of text into segments of about ``segment_chars``.

    ``cap`` bounds the total characters this packer may produce (the
    ``max_text_chars`` bound for text built in memory); ``None`` for streamed
    formats, whose memory is bounded by the segment size alone.
    """

    def __init__(self, limits: Limits, locator: str | None = None,
                 context: tuple[str, ...] = (), cap: int | None = None) -> None:
        self.limits = limits
        self.locator = locator
        self.context = context
        self.cap = cap
        self._parts: list[str] = []
        self._locs: list[tuple[int, str]] = []
        self._anchors: list[Anchor] = []
        self._known: list[Known] = []
        self._len = 0      # chars in the pending segment
        self._offset = 0   # offset of the pending segment in the whole text
        self.total = 0

    def add(self, sub: str | None, text: str, anchors: Iterable[Anchor] = (),
            known: Iterable[Known] = ()) -> Iterator[Segment]:
        """Add one unit; yields the segments that became full. ``anchors``
        are the unit's file positions, offsets relative to ``text``.

        Raises:
            Unscannable: the extracted text exceeds the cap (``too-large``).
        """
        if not text:
            return
        self.total += len(text)
        if self.cap is not None and self.total > self.cap:
            raise Unscannable("too-large", f"extracted text exceeds {self.cap} characters")
        if len(text) > self.limits.segment_chars:
            yield from self.flush()
            yield from self._split(sub, text, tuple(anchors))
            return
        if self._len + len(text) > self.limits.segment_chars:
            yield from self.flush()
        if sub is not None:
            self._locs.append((self._len, sub))
        at = self._len
        self._anchors.extend((s + at, e + at, f, ln, col) for s, e, f, ln, col in anchors)
        self._known.extend((s + at, e + at, kind, score) for s, e, kind, score in known)
        self._parts.append(text)
        self._len += len(text)

    def add_all_anchored(self, units: Iterable[Unit]) -> Iterator[Segment]:
        """``add`` each ``(sub, text, anchors, known)`` unit in turn."""
        for sub, text, anchors, known in units:
            yield from self.add(sub, text, anchors, known)

    def add_all(self, units: Iterable[tuple[str | None, str]]) -> Iterator[Segment]:
        """``add`` each ``(sub, text)`` unit in turn. One generator for them
        all: a CSV or JSON document holds tens of thousands of small units,
        and a generator per unit cost more than packing it (measured)."""
        size, cap = self.limits.segment_chars, self.cap
        parts, locs = self._parts, self._locs
        for sub, text in units:
            n = len(text)
            if 0 < n and self._len + n <= size and (cap is None or self.total + n <= cap):
                self.total += n
                if sub is not None:
                    locs.append((self._len, sub))
                parts.append(text)
                self._len += n
            else:
                yield from self.add(sub, text)
                parts, locs = self._parts, self._locs  # a flush starts new lists

    def flush(self) -> Iterator[Segment]:
        if self._parts:
            yield Segment(text="".join(self._parts), locator=self.locator, base=self._offset,
                          context=self.context, locators=tuple(self._locs),
                          anchors=tuple(self._anchors), known=tuple(self._known))
        self._offset += self._len
        self._parts, self._locs, self._len, self._anchors, self._known = [], [], 0, [], []

    def _split(self, sub: str | None, text: str, anchors: tuple[Anchor, ...] = ()
               ) -> Iterator[Segment]:
        locs = ((0, sub),) if sub is not None else ()
        for off, piece in windows([text], self.limits.segment_chars, self.limits.segment_overlap):
            yield Segment(text=piece, locator=self.locator, base=self._offset + off,
                          context=self.context, locators=locs,
                          anchors=clip_anchors(anchors, off, off + len(piece), text))
        self._offset += len(text)


def clip_anchors(anchors: tuple[Anchor, ...], lo: int, hi: int, text: str
                 ) -> tuple[Anchor, ...]:
    """The anchors of ``text`` moved to the window ``text[lo:hi]``: a run cut
    at the window's start starts there, its line and column advanced."""
    out = []
    for start, end, offset, line, column in anchors:
        if end <= lo or start >= hi:
            continue
        if start < lo:
            newlines = text.count("\n", start, lo)
            column = lo - text.rfind("\n", start, lo) if newlines else column + lo - start
            offset, line, start = offset + lo - start, line + newlines, lo
        out.append((start - lo, min(end, hi) - lo, offset, line, column))
    return tuple(out)


def prefixed(prefix: str, segments: Iterable[Segment]) -> Iterator[Segment]:
    """Re-home segments extracted from a nested unit (an archive member, an
    attachment) under ``prefix``: ``member=b.csv`` + ``;page=2``. Directly
    nested members join into one path: ``member=a.zip/b.csv``."""
    for seg in segments:
        if not seg.locator:
            loc = prefix
        elif prefix.startswith(_MEMBER) and seg.locator.startswith(_MEMBER):
            loc = f"{prefix}/{seg.locator[len(_MEMBER):]}"
        else:
            loc = f"{prefix};{seg.locator}"
        yield Segment(text=seg.text, locator=loc, base=seg.base, context=seg.context,
                      locators=seg.locators)


_MEMBER = "member="
