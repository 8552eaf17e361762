"""ZIP, gzip and tar: recursing into members by content, bounded against bombs.

Bounds are enforced while decompressing, on bytes actually produced, never
on declared sizes: every member is read through a ``_Metered`` stream that
counts into the file's ``Budget`` (total inflated bytes, overall ratio) and
checks the member's own ratio. A bomb therefore costs at most
``max_archive_total_bytes`` of decompression and one read chunk of memory.
Nesting is bounded by ``max_archive_depth``, members by
``max_archive_members``.

A member that turns out to be binary (an image in a zip) is passed over: the
rest of the archive is still scanned. Any other member failure (encrypted,
corrupt, a bound crossed) makes the whole file unscannable -- a partly read
archive is never reported as clean.
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO

from daemon.scan.extract.documents import check_declared_sizes, extract_docx
from daemon.scan.extract.segmenting import prefixed
from daemon.scan.extract.sniff import MIME
from daemon.scan.extract.source import (
    CHUNK_BYTES,
    RATIO_GRACE_BYTES,
    Ctx,
    Input,
    Readable,
    escape_locator_part,
)
from daemon.scan.foreign import zip_consumed
from daemon.scan.segments import Segment
from scratchwarden.errors import Unscannable

Result = tuple[str, Iterator[Segment]]
Recurse = Callable[[Input, Ctx], Result]
# What stdlib decompressors raise on damaged input (tarfile's header parsing
# indexes past short fields: IndexError, found fuzzing).
_DAMAGE = (zipfile.BadZipFile, gzip.BadGzipFile, tarfile.TarError, zlib.error, EOFError,
           OSError, ValueError, NotImplementedError, IndexError)


class _Metered:
    """Counts what an inner stream produces into the budget; checks the
    member's compression ratio against ``compressed()`` bytes consumed."""

    def __init__(self, raw: Readable, ctx: Ctx, compressed: Callable[[], int]) -> None:
        self._raw = raw
        self._ctx = ctx
        self._compressed = compressed
        self.produced = 0

    def read(self, n: int = -1, /) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(CHUNK_BYTES), b""))
        data = self._raw.read(min(n, CHUNK_BYTES))
        self.produced += len(data)
        self._ctx.budget.add_inflated(len(data))
        limit = self._ctx.limits.max_compression_ratio
        if self.produced > RATIO_GRACE_BYTES and self.produced > limit * max(self._compressed(), 1):
            raise Unscannable("zip-bomb", f"member compression ratio above {limit:g}")
        return data


class _Counting:
    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._raw.read(n)
        self.count += len(data)
        return data


def _check_depth(ctx: Ctx) -> None:
    if ctx.depth >= ctx.limits.max_archive_depth:
        raise Unscannable("archive-limit", f"expected archives nested at most "
                                           f"{ctx.limits.max_archive_depth} deep, found deeper")


def _damaged(what: str, e: BaseException) -> Unscannable:
    if isinstance(e, NotImplementedError):
        return Unscannable("extract-error", f"{what}: unsupported compression")
    return Unscannable("corrupt", f"{what} is damaged ({type(e).__name__})")


def nested(inp: Input, ctx: Ctx, recurse: Recurse, prefix: str) -> Iterator[Segment]:
    """Extract a unit found inside another one, under locator ``prefix``.
    A binary unit yields nothing; every other failure propagates."""
    child = Ctx(ctx.limits, ctx.budget, ctx.depth + 1)
    try:
        _, segments = recurse(inp, child)
    except Unscannable as e:
        if e.reason == "binary":
            ctx.budget.skipped_binary += 1
            return
        raise
    yield from prefixed(prefix, segments)


def _member_prefix(name: str) -> str:
    return f"member={escape_locator_part(name)}"


def extract_zip(inp: Input, ctx: Ctx, recurse: Recurse) -> Result:
    """The segments of a zip's members, extracted recursively within the budget.

    Raises:
        Unscannable: an encrypted member, a bomb, or past a limit.
    """
    f = inp.as_seekable(ctx.limits.max_file_bytes)
    try:
        zf = zipfile.ZipFile(f)
        names = set(zf.namelist())
    except _DAMAGE as e:
        raise _damaged("zip", e) from e
    if "word/document.xml" in names and "[Content_Types].xml" in names:
        check_declared_sizes(zf, ctx)
        zf.close()
        f.seek(0)
        return extract_docx(f, ctx)
    _check_depth(ctx)
    # not ``ZipInfo.is_dir()``: it indexes the name, and a member's name may be empty
    infos = [i for i in zf.infolist() if not i.filename.endswith("/")]
    for info in infos:
        ctx.budget.add_member()
        if info.flag_bits & 0x1:
            raise Unscannable("encrypted", "zip member is encrypted")
    return MIME["zip"], _zip_members(zf, infos, ctx, recurse)


def _zip_members(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], ctx: Ctx,
                 recurse: Recurse) -> Iterator[Segment]:
    with zf:
        for info in infos:
            try:
                with zf.open(info) as raw:
                    meter = _Metered(raw, ctx, _zip_consumed(raw, info))
                    inp = Input(meter, info.filename, None)
                    yield from nested(inp, ctx, recurse, _member_prefix(info.filename))
            except _DAMAGE as e:
                raise _damaged("zip member", e) from e


def _zip_consumed(raw: IO[bytes], info: zipfile.ZipInfo) -> Callable[[], int]:
    """Compressed bytes of the member consumed so far (``foreign.zip_consumed``)."""
    return zip_consumed(raw, info.compress_size)


def gzip_inner_name(head: bytes, outer: str) -> str:
    """The original file name stored in the gzip header (FNAME), else the
    outer name without its ``.gz``."""
    if len(head) > 10 and head[3] & 0x08:
        pos = 10
        if head[3] & 0x04:  # FEXTRA
            pos += 2 + int.from_bytes(head[10:12], "little")
        end = head.find(b"\x00", pos)
        if end > pos:
            return head[pos:end].decode("latin-1")
    base = outer.rsplit("/", 1)[-1]
    for ext, repl in ((".tgz", ".tar"), (".gz", ""), (".gzip", "")):
        if base.lower().endswith(ext):
            return base[: -len(ext)] + repl
    return base


def extract_gzip(inp: Input, ctx: Ctx, recurse: Recurse) -> Result:
    _check_depth(ctx)
    name = gzip_inner_name(inp.head, inp.name)
    counting = _Counting(inp.reader())
    gz = gzip.GzipFile(fileobj=counting, mode="rb")  # type: ignore[call-overload]
    try:
        inner = Input(_Metered(gz, ctx, lambda: counting.count), name, None)
    except _DAMAGE as e:
        raise _damaged("gzip", e) from e
    # A gzip wraps one file: binary content makes the gzip itself binary.
    child = Ctx(ctx.limits, ctx.budget, ctx.depth + 1)
    try:
        _, segments = recurse(inner, child)
    except _DAMAGE as e:
        raise _damaged("gzip", e) from e
    return MIME["gzip"], _guarded("gzip", prefixed(_member_prefix(name), segments))


def _guarded(what: str, segments: Iterator[Segment]) -> Iterator[Segment]:
    try:
        yield from segments
    except _DAMAGE as e:
        raise _damaged(what, e) from e


def extract_tar(inp: Input, ctx: Ctx, recurse: Recurse) -> Result:
    _check_depth(ctx)
    try:
        tf = tarfile.open(fileobj=inp.reader(), mode="r|")  # type: ignore[call-overload]
    except _DAMAGE as e:
        raise _damaged("tar", e) from e
    # A tar holds at most its own bytes; a stream (a tar in a gzip) at most
    # what the archive bounds let be inflated.
    end = inp.size if inp.size is not None else ctx.limits.max_archive_total_bytes
    return MIME["tar"], _guarded("tar", _tar_members(tf, ctx, recurse, end))


def _tar_members(tf: tarfile.TarFile, ctx: Ctx, recurse: Recurse,
                 end: int) -> Iterator[Segment]:
    with tf:
        for member in tf:
            # The next header is at the offset the sizes declare, and a stream
            # is skipped forward to it one block at a time: a size of 2^90
            # (base-256 or pax) spun that loop forever. Past the end: corrupt.
            if tf.offset > end:
                raise Unscannable("corrupt", "tar member declares more bytes than the "
                                             "archive holds")
            ctx.budget.add_member()
            if not member.isfile():
                continue
            f = tf.extractfile(member)
            if f is None:
                continue
            inp = Input(f, member.name, member.size)
            yield from nested(inp, ctx, recurse, _member_prefix(member.name))
