"""What every extractor reads from, and the budget that bounds a whole file.

An ``Input`` is one unit of bytes to extract: the top-level file (a seekable
file object on a no-follow fd) or something found inside it (an archive
member, a mail attachment). Its first ``HEAD_BYTES`` are already read, so
sniffing never reads more than that; the rest is read in bounded chunks.

A ``Budget`` is shared by everything extracted from one top-level file. It
counts what archives actually produced (never what they declare) and stops
the extraction the moment a bound is crossed, so a bomb costs at most the
bound, not its payload.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from daemon.scan.segments import Limits
from scratchwarden.errors import Unscannable

HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
# Compression ratios are judged only past this many output bytes: small,
# repetitive members (a 2 KB file of spaces) are legitimately above 100:1.
RATIO_GRACE_BYTES = 1024 * 1024


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass
class Budget:
    """Counters for one top-level file, shared by all nested extractions."""

    limits: Limits
    outer_bytes: int
    members: int = 0
    inflated: int = 0
    skipped_binary: int = 0  # nested units passed over as binary (reported, never silent)

    def add_member(self) -> None:
        """Count one archive member, anywhere in the file.

        Raises:
            Unscannable: more members than the limit (``archive-limit``).
        """
        self.members += 1
        if self.members > self.limits.max_archive_members:
            raise Unscannable(
                "archive-limit",
                f"expected at most {self.limits.max_archive_members} archive members, found more",
            )

    def add_inflated(self, n: int) -> None:
        """Count ``n`` bytes produced by a decompressor, anywhere in the file.

        Raises:
            Unscannable: past the total or the ratio limit (``zip-bomb``).
        """
        self.inflated += n
        if self.inflated > self.limits.max_archive_total_bytes:
            raise Unscannable(
                "zip-bomb",
                f"decompressed data exceeds {self.limits.max_archive_total_bytes} bytes",
            )
        if self.inflated > RATIO_GRACE_BYTES and self.outer_bytes > 0:
            ratio = self.inflated / self.outer_bytes
            if ratio > self.limits.max_compression_ratio:
                raise Unscannable(
                    "zip-bomb",
                    f"overall compression ratio above {self.limits.max_compression_ratio:g}",
                )

    @property
    def remaining_inflate(self) -> int:
        return self.limits.max_archive_total_bytes - self.inflated


@dataclass
class Ctx:
    """Where an extraction stands: bounds, shared counters, nesting depth."""

    limits: Limits
    budget: Budget
    depth: int = 0


class Input:
    """One unit of bytes to extract, with its head already read.

    ``size`` is the exact size when known (a regular file), else ``None``.
    ``seekable`` is a file object that can be handed to libraries that seek
    (zipfile, pypdf) without copying; ``None`` for streams.
    """

    def __init__(self, stream: Readable, name: str, size: int | None,
                 seekable: BinaryIO | None = None) -> None:
        self.name = name
        self.size = size
        self._stream = stream
        self._seekable = seekable
        self.head = _read_exactly(stream, HEAD_BYTES if size is None else min(HEAD_BYTES, size))
        self._consumed = False

    @classmethod
    def from_bytes(cls, data: bytes, name: str) -> Input:
        buf = io.BytesIO(data)
        return cls(buf, name, len(data), buf)

    def chunks(self) -> Iterator[bytes]:
        """The whole content, head first, in chunks of at most ``CHUNK_BYTES``.
        For a file of known size, never more than ``size`` bytes (a file that
        grows while scanned cannot keep us reading)."""
        self._take()
        left = self.size
        if self.head:
            yield self.head
            if left is not None:
                left -= len(self.head)
        while left is None or left > 0:
            n = CHUNK_BYTES if left is None else min(CHUNK_BYTES, left)
            data = self._stream.read(n)
            if not data:
                return
            if left is not None:
                left -= len(data)
            yield data

    def reader(self) -> Readable:
        """A file-like ``read(n)`` over the whole content, for stream parsers
        (gzip, tar)."""
        return _ChunkReader(self.chunks())

    def read_all(self, cap: int) -> bytes:
        """The whole content, or ``Unscannable("too-large")`` past ``cap`` bytes.

        Raises:
            Unscannable: more than ``cap`` bytes (``too-large``).
        """
        if self.size is not None and self.size > cap:
            raise Unscannable("too-large", f"expected at most {cap} bytes, found {self.size}")
        parts: list[bytes] = []
        total = 0
        for chunk in self.chunks():
            total += len(chunk)
            if total > cap:
                raise Unscannable("too-large", f"expected at most {cap} bytes, found more")
            parts.append(chunk)
        return b"".join(parts)

    def read_upto(self, cap: int) -> tuple[bytes, Iterator[bytes] | None]:
        """Up to ``cap`` bytes, and ``None`` when that was everything, else an
        iterator over the whole content (those bytes again, then the rest) so
        the caller can fall back to streaming without re-reading."""
        parts: list[bytes] = []
        total = 0
        it = self.chunks()
        for chunk in it:
            parts.append(chunk)
            total += len(chunk)
            if total > cap:
                data = b"".join(parts)
                return data, itertools.chain([data], it)
        return b"".join(parts), None

    def as_seekable(self, cap: int) -> BinaryIO:
        """A seekable file object over the whole content (copied into memory,
        bounded by ``cap``, only when the source is a stream)."""
        if self._seekable is not None:
            self._take()
            self._seekable.seek(0)
            return self._seekable
        return io.BytesIO(self.read_all(cap))

    def _take(self) -> None:
        if self._consumed:
            raise RuntimeError("an Input can be read only once")
        self._consumed = True


class _ChunkReader:
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0

    def read(self, n: int = -1, /) -> bytes:
        if n < 0:
            rest = self._buf[self._pos:] + b"".join(self._chunks)
            self._buf, self._pos = b"", 0
            return rest
        while len(self._buf) - self._pos < n:
            chunk = next(self._chunks, b"")
            if not chunk:
                break
            self._buf, self._pos = self._buf[self._pos:] + chunk, 0
        data = self._buf[self._pos:self._pos + n]
        self._pos += len(data)
        return data


def _read_exactly(stream: Readable, n: int) -> bytes:
    parts: list[bytes] = []
    left = n
    while left > 0:
        data = stream.read(left)
        if not data:
            break
        parts.append(data)
        left -= len(data)
    return b"".join(parts)


def escape_locator_part(name: str) -> str:
    """Member and attachment names go into locators: keep them on one line,
    free of the ``;`` separator and encodable as UTF-8 (percent-encoded; a
    byte that was not UTF-8, which tarfile and email keep as a lone
    surrogate, as itself: ``caf%E9.txt``), nothing else changes."""
    out = []
    for ch in name:
        if ch in "%;" or ord(ch) < 0x20 or ord(ch) == 0x7F or "\ud800" <= ch <= "\udfff":
            out.append("".join(f"%{b:02X}" for b in _raw(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _raw(ch: str) -> bytes:
    try:
        return ch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return ch.encode("utf-8", "surrogatepass")
