"""PDF (pypdf) and DOCX (python-docx).

Both libraries parse hostile input, so every error they raise (of any type:
malformed files surface as KeyError, TypeError, RecursionError...) is wrapped
as ``Unscannable("corrupt")``. A PDF encrypted with an empty user password is
opened (readers open it without asking, so its text is as exposed as a plain
one); any other encryption is ``Unscannable("encrypted")``. A DOCX is a zip:
its declared member sizes are checked against the archive bounds before
python-docx reads it (zipfile never inflates a member past its declared size,
so the check is a real bound), and its XML parser does not resolve entities.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import IO, Any

from daemon.scan.extract.segmenting import SegmentPacker
from daemon.scan.extract.sniff import MIME
from daemon.scan.extract.source import Ctx, Input
from daemon.scan.foreign import docx_cell_identity
from daemon.scan.segments import Limits, Segment
from scratchwarden.errors import ScratchwardenError, Unscannable

Result = tuple[str, Iterator[Segment]]


def extract_pdf(inp: Input, ctx: Ctx) -> Result:
    """The text of a PDF, page by page.

    Raises:
        Unscannable: too many pages, password-protected, or corrupt.
    """
    from pypdf import PasswordType, PdfReader

    f = inp.as_seekable(ctx.limits.max_file_bytes)
    try:
        reader = PdfReader(f, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise Unscannable("encrypted", "PDF needs a password")
        pages = len(reader.pages)
    except ScratchwardenError:
        raise
    except Exception as e:  # noqa: BLE001 - hostile input: any library error means corrupt
        raise _corrupt("PDF", e) from e
    if pages > ctx.limits.max_pdf_pages:
        raise Unscannable("too-large", f"expected at most {ctx.limits.max_pdf_pages} pages, "
                                       f"found {pages}")
    return MIME["pdf"], _pdf_pages(reader, pages, ctx.limits)


def _pdf_pages(reader: Any, pages: int, limits: Limits) -> Iterator[Segment]:
    total = 0
    for n in range(pages):
        try:
            text = reader.pages[n].extract_text() or ""
        except Exception as e:  # noqa: BLE001 - hostile input
            raise _corrupt("PDF page", e) from e
        total += len(text)
        if total > limits.max_text_chars:
            raise Unscannable("too-large", f"extracted text exceeds {limits.max_text_chars} "
                                           "characters")
        packer = SegmentPacker(limits, locator=f"page={n + 1}")
        yield from packer.add(None, text)
        yield from packer.flush()


def _corrupt(what: str, e: BaseException) -> Unscannable:
    # The exception's message may quote file content: keep only its type.
    return Unscannable("corrupt", f"{what} does not parse ({type(e).__name__})")


def extract_docx(f: IO[bytes], ctx: Ctx) -> Result:
    """``f``: a seekable file object over a zip already known to hold
    ``word/document.xml``."""
    import docx

    try:
        document = docx.Document(f)
    except ScratchwardenError:
        raise
    except Exception as e:  # noqa: BLE001 - hostile input
        raise _corrupt("DOCX", e) from e
    return MIME["docx"], _docx_segments(document, ctx.limits)


def check_declared_sizes(zf: zipfile.ZipFile, ctx: Ctx) -> None:
    """Reject a zip whose declared sizes break the bounds before a library
    reads it whole.

    Raises:
        Unscannable: ``zip-bomb`` (declared size or ratio) or ``encrypted``.
    """
    total = 0
    for info in zf.infolist():
        ctx.budget.add_member()
        total += info.file_size
        if info.flag_bits & 0x1:
            raise Unscannable("encrypted", "zip member is encrypted")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > ctx.limits.max_compression_ratio:
            raise Unscannable("zip-bomb", "declared compression ratio above "
                                          f"{ctx.limits.max_compression_ratio:g}")
    if total > ctx.budget.remaining_inflate:
        raise Unscannable("zip-bomb", f"declared size exceeds {ctx.budget.remaining_inflate} "
                                      "bytes")
    ctx.budget.add_inflated(total)


def _docx_segments(document: Any, limits: Limits) -> Iterator[Segment]:
    packer = SegmentPacker(limits, cap=limits.max_text_chars)
    try:
        for n, para in enumerate(document.paragraphs, start=1):
            yield from packer.add(f"paragraph={n}", para.text + "\n")
        for t, table in enumerate(document.tables, start=1):
            yield from _table_units(packer, t, table)
        for s, section in enumerate(document.sections, start=1):
            for part, where in ((section.header, "header"), (section.footer, "footer")):
                text = "\n".join(p.text for p in part.paragraphs if p.text)
                yield from packer.add(f"{where}={s}", text + "\n" if text else "")
    except ScratchwardenError:
        raise
    except Exception as e:  # noqa: BLE001 - hostile input
        raise _corrupt("DOCX", e) from e
    yield from packer.flush()


def _table_units(packer: SegmentPacker, t: int, table: Any) -> Iterator[Segment]:
    seen: set[Any] = set()  # the cells' XML elements (hashable by identity)
    for r, row in enumerate(table.rows, start=1):
        for c, cell in enumerate(row.cells, start=1):
            key = docx_cell_identity(cell)
            if key in seen:  # a merged cell repeats across the grid
                continue
            seen.add(key)
            if cell.text.strip():
                yield from packer.add(f"table={t};row={r};col={c}", cell.text + "\n")
