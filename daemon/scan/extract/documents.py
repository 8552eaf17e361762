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
from daemon.scan.segments import Limits, Segment
from scratchwarden.errors import ScratchwardenError, Unscannable

Result = tuple[str, Iterator[Segment]]
MAX_TABLE_NESTING = 16
MAX_GRID_SPAN = 63


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
        # the body's w:tbl elements: the list python-docx builds ``document.tables`` from
        for t, tbl in enumerate(document.element.body.tbl_lst, start=1):
            yield from _cells_of(packer, f"table={t}", tbl, 0)
        for s, section in enumerate(document.sections, start=1):
            for part, where in ((section.header, "header"), (section.footer, "footer")):
                text = "\n".join(p.text for p in part.paragraphs if p.text)
                yield from packer.add(f"{where}={s}", text + "\n" if text else "")
    except ScratchwardenError:
        raise
    except Exception as e:  # noqa: BLE001 - hostile input
        raise _corrupt("DOCX", e) from e
    yield from packer.flush()


def _cells_of(packer: SegmentPacker, where: str, tbl: Any, depth: int) -> Iterator[Segment]:
    """Every cell element of a table once, by its own ``w:tc``: python-docx's
    ``row.cells`` repeats a cell for each grid column it spans, and a span is
    a number in the file (``gridSpan="2000000000"``: minutes per cell). ``col``
    is the grid column the cell starts in (spans before it counted). Tables
    nested in a cell are walked too (python-docx's ``cell.text`` leaves them
    out), bounded by ``MAX_TABLE_NESTING``. Read through python-docx's XML
    element classes by their public names (``tr_lst``, ``tc_lst``, ``p_lst``,
    ``tbl_lst``, ``grid_span``): no private name, so nothing for
    ``daemon/scan/foreign.py`` to fence."""
    if depth > MAX_TABLE_NESTING:
        raise Unscannable("archive-limit", f"expected tables nested at most "
                                           f"{MAX_TABLE_NESTING} deep, found deeper")
    for r, tr in enumerate(tbl.tr_lst, start=1):
        col = 1
        for tc in tr.tc_lst:
            text = _cell_text(tc)
            here = f"{where};row={r};col={col}"
            if text.strip():
                yield from packer.add(here, text + "\n")
            for k, inner in enumerate(tc.tbl_lst, start=1):
                yield from _cells_of(packer, f"{here};table={k}", inner, depth + 1)
            col += _span(tc)


def _cell_text(tc: Any) -> str:
    """A cell's text as python-docx's ``_Cell.text`` reads it: its own
    paragraphs' text, one per line (nested tables' text is not in it)."""
    return "\n".join(p.text for p in tc.p_lst)


def _span(tc: Any) -> int:
    """The cell's grid span, within what Word itself allows (63 columns): the
    locator stays a small position, never a number the file chose."""
    try:
        return min(max(int(tc.grid_span), 1), MAX_GRID_SPAN)
    except ValueError:
        return 1
