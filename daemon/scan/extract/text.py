"""Plain text: deciding the encoding, telling text from binary, streaming.

Encoding, in order (first 64 KiB are judged):

1. a BOM: UTF-8, UTF-32 LE/BE, UTF-16 LE/BE;
2. NUL bytes in a UTF-16 pattern (one of each pair NUL): BOM-less UTF-16;
   any other NUL byte: binary;
3. strict UTF-8 decodes: UTF-8;
4. mostly-valid UTF-8 (valid multi-byte sequences outnumber invalid bytes):
   UTF-8 with invalid bytes replaced by U+FFFD -- a log with one corrupted
   line is still text the user expects scanned;
5. otherwise a legacy 8-bit text: cp1252 (a superset of Latin-1's printable
   range; its five undefined bytes become U+FFFD).

All decoding uses ``errors="replace"``, which maps one bad byte sequence to one
U+FFFD: offsets stay stable and decoding never fails. Then the binary test:
at least 85% of the decoded head must be printable or whitespace (U+FFFD
counts as not printable).

Offsets in segments are character offsets into the decoded text, the BOM not
included. Streaming keeps at most one window plus one read chunk in memory.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from daemon.scan.extract.segmenting import windows
from daemon.scan.segments import Limits, Segment

PRINTABLE_MIN = 0.85
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_WHITESPACE = frozenset("\t\n\r\f\v")
_DROP_WHITESPACE = dict.fromkeys(map(ord, _WHITESPACE))


@dataclass(frozen=True, slots=True)
class TextEncoding:
    codec: str
    bom: int = 0  # bytes of BOM to skip


def detect_encoding(head: bytes, complete: bool) -> TextEncoding | None:
    """The encoding of text starting with ``head``, or ``None`` for binary.
    ``complete``: ``head`` is the whole content (a cut multi-byte sequence at
    its end is then an error, not a continuation)."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            with_bom = TextEncoding(codec, len(bom))
            return with_bom if is_printable(decode_head(head, with_bom, complete)) else None
    enc: TextEncoding | None
    if b"\x00" in head:
        enc = _utf16_without_bom(head)
    else:
        enc = TextEncoding(_utf8_or_legacy(head, complete))
    if enc is None or not is_printable(decode_head(head, enc, complete)):
        return None
    return enc


def _utf16_without_bom(head: bytes) -> TextEncoding | None:
    even, odd = head[0::2], head[1::2]
    if not even or not odd:
        return None
    even_nul, odd_nul = even.count(0) / len(even), odd.count(0) / len(odd)
    if odd_nul > 0.3 and even_nul < 0.01:
        return TextEncoding("utf-16-le")
    if even_nul > 0.3 and odd_nul < 0.01:
        return TextEncoding("utf-16-be")
    return None


def _utf8_or_legacy(head: bytes, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    try:
        decoder.decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=complete)
    invalid = text.count("\ufffd")
    valid_multibyte = sum(1 for ch in text if ord(ch) > 0x7F) - invalid
    return "utf-8" if valid_multibyte > invalid else "cp1252"


def decode_head(head: bytes, enc: TextEncoding, complete: bool) -> str:
    decoder = codecs.getincrementaldecoder(enc.codec)(errors="replace")
    return decoder.decode(head[enc.bom:], final=complete)


def is_printable(text: str) -> bool:
    """At least ``PRINTABLE_MIN`` of the characters are printable or whitespace.
    The common case (every character is) is one C-level pass, not one Python
    step per character."""
    if not text:
        return True
    if text.translate(_DROP_WHITESPACE).isprintable():
        return True
    printable = sum(1 for ch in text if ch.isprintable() or ch in _WHITESPACE)
    return printable / len(text) >= PRINTABLE_MIN


def decoded_chunks(chunks: Iterable[bytes], enc: TextEncoding) -> Iterator[str]:
    """Decode a byte stream incrementally (multi-byte sequences split across
    chunks are handled), skipping the BOM."""
    decoder = codecs.getincrementaldecoder(enc.codec)(errors="replace")
    skip = enc.bom
    for chunk in chunks:
        if skip:
            cut = min(skip, len(chunk))
            chunk, skip = chunk[cut:], skip - cut
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def stream_segments(text_chunks: Iterable[str], limits: Limits,
                    locator: str | None = None) -> Iterator[Segment]:
    """Overlapping windows of a text stream; ``base`` is the window's offset.
    Each window is one anchored run (the stream is the file's own text: a
    nested unit's segments lose their anchors in ``prefixed``)."""
    from daemon.scan.extract.positions import LineCounter

    where = LineCounter()
    last = (0, "")
    for base, piece in windows(text_chunks, limits.segment_chars, limits.segment_overlap):
        where.advance(last[1], base - last[0])
        last = (base, piece)
        yield Segment(text=piece, locator=locator, base=base,
                      anchors=((0, len(piece), base, where.line, where.column),))


def iter_lines(text_chunks: Iterable[str], max_line: int) -> Iterator[str]:
    """Lines with their endings, from decoded chunks, split on ``\\n`` only
    (JSON strings may hold U+2028; CSV keeps its ``\\r``). A line longer than
    ``max_line`` is cut (its pieces come out as separate lines), so a file
    with no newline cannot grow the buffer without bound."""
    pending = ""
    for chunk in text_chunks:
        pending += chunk
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            yield line + "\n"
        while len(pending) > max_line:
            yield pending[:max_line]
            pending = pending[max_line:]
    if pending:
        yield pending
