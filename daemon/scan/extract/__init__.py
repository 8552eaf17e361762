"""Content extraction: one file in, a stream of text ``Segment``s out.

Entry points::

    extract_file(path, limits=Limits()) -> Extraction
    extract_bytes(data, name="", limits=Limits()) -> Extraction

Errors (all from ``scratchwarden.errors``), raised by the call or while iterating
``Extraction.segments`` -- either way the file is not fully scanned and must
be recorded so, never as clean:

- ``Skipped(reason)``: not a regular file, never opened for reading
  (``symlink``, ``fifo``, ``socket``, ``device``, ``directory``);
- ``Unscannable(reason, detail)`` with ``reason`` one of ``not-found``,
  ``permission-denied``, ``too-large``, ``zip-bomb``, ``archive-limit``,
  ``binary``, ``encrypted``, ``corrupt``, ``extract-error``. ``detail`` never
  holds file content.

The file stays open while ``segments`` is iterated; iterate it to the end or
call ``segments.close()`` to release it promptly.

Formats are told by content (see ``sniff``): plain text in common encodings,
JSON/NDJSON, CSV/TSV, PDF, DOCX, EML/mbox, ZIP/gzip/tar (recursively), SQLite.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterator

from daemon.platform.files import open_nofollow
from daemon.scan.extract.dispatch import extract_input
from daemon.scan.extract.source import Budget, Ctx, Input
from daemon.scan.segments import Extraction, Limits, Segment
from scratchwarden.errors import Skipped, UnsafePath, Unscannable

__all__ = ["extract_bytes", "extract_file", "special_kind"]

_KINDS = (
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "device"),
    (stat.S_ISBLK, "device"),
    (stat.S_ISDIR, "directory"),
)


def extract_file(path: str | os.PathLike[str], limits: Limits = Limits()) -> Extraction:  # noqa: B008
    """Extract the regular file at ``path`` without following a symlink and
    without ever opening a FIFO, socket or device for reading."""
    _require_regular(_lstat(path).st_mode)
    fd = _open(path)
    f = io.FileIO(fd, "rb", closefd=True)
    try:
        st = os.fstat(fd)
        _require_regular(st.st_mode)  # swapped in after the lstat: still never read
        ctx = Ctx(limits, Budget(limits, outer_bytes=st.st_size))
        inp = Input(f, os.fsdecode(path), st.st_size, seekable=f)
        mime, segments = extract_input(inp, ctx)
    except OSError as e:
        f.close()
        raise _os_error(e) from e
    except BaseException:
        f.close()
        raise
    return Extraction(mime=mime, segments=_closing(segments, f), budget=ctx.budget)


def extract_bytes(data: bytes, name: str = "", limits: Limits = Limits()) -> Extraction:  # noqa: B008
    """Extract in-memory content; ``name`` is only a hint (``.csv``...)."""
    ctx = Ctx(limits, Budget(limits, outer_bytes=len(data)))
    mime, segments = extract_input(Input.from_bytes(data, name), ctx)
    return Extraction(mime=mime, segments=segments, budget=ctx.budget)


def special_kind(mode: int) -> str | None:
    """Why a file of this mode is never opened for reading (``symlink``,
    ``fifo``, ``socket``, ``device``, ``directory``, ``not-a-regular-file``),
    or None for a regular file."""
    for test, reason in _KINDS:
        if test(mode):
            return reason
    return None if stat.S_ISREG(mode) else "not-a-regular-file"


def _require_regular(mode: int) -> None:
    reason = special_kind(mode)
    if reason is not None:
        raise Skipped(reason, "not a regular file; not opened for reading")


def _open(path: str | os.PathLike[str]) -> int:
    try:
        return open_nofollow(path)
    except UnsafePath as e:
        raise Skipped("symlink", "became a symbolic link before it was opened") from e
    except OSError as e:
        raise _os_error(e) from e


def _lstat(path: str | os.PathLike[str]) -> os.stat_result:
    try:
        return os.lstat(path)
    except OSError as e:
        raise _os_error(e) from e


def _os_error(e: OSError) -> Unscannable:
    if isinstance(e, PermissionError):
        return Unscannable("permission-denied", "the scanner may not read this file")
    if isinstance(e, FileNotFoundError):
        return Unscannable("not-found", "the file vanished before it was read")
    name = errno.errorcode.get(e.errno or 0, "unknown")
    return Unscannable("extract-error", f"reading failed ({name})")


def _closing(segments: Iterator[Segment], f: io.FileIO) -> Iterator[Segment]:
    try:
        yield from segments
    except OSError as e:
        raise _os_error(e) from e
    finally:
        close = getattr(segments, "close", None)
        if close is not None:
            close()
        f.close()
