"""Routing one ``Input`` to its extractor, by content.

Size gate: a unit larger than ``max_file_bytes`` is extracted only when its
format can be streamed in bounded memory -- plain text, CSV/TSV, NDJSON, JSON
(then as plain text), mbox, and the archives (their members stay under the
archive bounds). PDF, SQLite, a single mail message and unrecognised content
of that size are ``Unscannable("too-large")`` after reading only the head.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from daemon.scan.extract import archives, documents, mail, sqlite, structured
from daemon.scan.extract.sniff import MIME, Magic, TextKind, sniff_magic, sniff_text
from daemon.scan.extract.source import Ctx, Input
from daemon.scan.extract.text import decode_head, decoded_chunks, detect_encoding, stream_segments
from daemon.scan.segments import Segment
from scratchwarden.errors import Unscannable

Result = tuple[str, Iterator[Segment]]
_OLE_ENCRYPTED = "EncryptedPackage".encode("utf-16-le")


def extract_input(inp: Input, ctx: Ctx) -> Result:
    """The MIME type and segments of ``inp``; raises ``Unscannable``.

    Raises:
        Unscannable: binary content, or what the format's extractor raises.
    """
    magic = sniff_magic(inp.head)
    if magic is not Magic.NONE:
        return _binary_format(magic, inp, ctx)
    complete = inp.size is not None and inp.size <= len(inp.head)
    enc = detect_encoding(inp.head, complete)
    if enc is None:
        raise Unscannable("binary", "expected text, found NUL bytes or under 85% printable")
    kind = sniff_text(decode_head(inp.head, enc, complete), inp.name)
    if kind is TextKind.JSON:
        return structured.extract_json(inp, enc, ctx)
    if kind is TextKind.CSV:
        return structured.extract_delimited(inp, enc, ctx)
    if kind is TextKind.MBOX:
        return mail.extract_mbox(inp, ctx, extract_input)
    if kind is TextKind.EML:
        _not_too_large(inp, ctx, "a mail message")
        return mail.extract_eml(inp, ctx, extract_input)
    return MIME["text"], stream_segments(decoded_chunks(inp.chunks(), enc), ctx.limits)


_ARCHIVES: dict[Magic, Callable[[Input, Ctx, archives.Recurse], Result]] = {
    Magic.ZIP: archives.extract_zip,
    Magic.GZIP: archives.extract_gzip,
    Magic.TAR: archives.extract_tar,
}


def _binary_format(magic: Magic, inp: Input, ctx: Ctx) -> Result:
    if magic in _ARCHIVES:
        return _ARCHIVES[magic](inp, ctx, extract_input)
    if magic is Magic.OLE:
        if _OLE_ENCRYPTED in inp.head:
            raise Unscannable("encrypted", "Office document is password-protected")
        raise Unscannable("binary", "legacy Office (OLE) documents are not extracted")
    _not_too_large(inp, ctx, f"a {magic.value} file")
    if magic is Magic.PDF:
        return documents.extract_pdf(inp, ctx)
    return sqlite.extract_sqlite(inp, ctx)


def _not_too_large(inp: Input, ctx: Ctx, what: str) -> None:
    cap = ctx.limits.max_file_bytes
    if inp.size is not None and inp.size > cap:
        raise Unscannable("too-large", f"expected {what} of at most {cap} bytes, "
                                       f"found {inp.size}")
