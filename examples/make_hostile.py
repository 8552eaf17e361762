#!/usr/bin/env python3
"""Create hostile files that extraction must survive, in a given directory.

``python examples/make_hostile.py DIR [--big]`` writes:

- ``bomb-10g.zip``: 10 members of 1 GiB of zeros each (10 GiB, ~10 MB file);
- ``bomb-text-10g.zip``: the same with 1 GiB of ``A`` (text: must be streamed);
- ``bomb-nested.zip``: a zip of 10 zips of 10 such 1 GiB members (100 GiB);
- ``bomb-1g.gz``, ``bomb-text-1g.gz``, ``bomb-nested.gz`` (a gzip of the
  text gzip);
- ``many-members.zip``: 10,001 tiny members;
- ``deep.zip``: a text file inside five nested zips;
- ``encrypted.zip`` (a member flagged encrypted), ``truncated.gz``;
- ``corrupt.pdf``, ``encrypted.pdf`` (pypdf's writer, user password set);
- ``invalid-utf8.txt``, ``cp1252.txt``, ``utf16le-bom.txt``, ``utf16be-nobom.txt``;
- ``deep.json`` (100,000 nested arrays), ``sparse-200m.bin`` (a sparse hole),
  ``fake-200m.pdf`` (a PDF header on a 200 MB sparse file);
- ``passwd-link`` (a symlink to /etc/passwd), ``fifo``, ``socket``;
- with ``--big``: ``big-200m.txt``, 200 MB of text (written in ~1 s).

The bombs are built without decompressing anything: one deflate block of
1 MiB of zeros, ended by a full flush, is byte-identical every time, so a
stream of N MiB is that block N times plus an end marker.
"""

from __future__ import annotations

import functools
import gzip
import io
import os
import socket
import struct
import sys
import zipfile
import zlib
from pathlib import Path

MIB = 1 << 20
GIB = 1 << 30


@functools.cache
def _block(fill: bytes) -> tuple[bytes, bytes]:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(fill * MIB) + c.flush(zlib.Z_FULL_FLUSH)
    return block, c.flush(zlib.Z_FINISH)


def deflate_repeated(mib: int, fill: bytes = b"\0") -> bytes:
    """A raw deflate stream inflating to ``mib`` MiB of the byte ``fill``."""
    block, end = _block(fill)
    return block * mib + end


@functools.cache
def crc_repeated(mib: int, fill: bytes = b"\0") -> int:
    data, crc = fill * MIB, 0
    for _ in range(mib):
        crc = zlib.crc32(data, crc)
    return crc


def raw_zip(members: list[tuple[str, bytes, int, int, int]], flags: int = 0) -> bytes:
    """A zip from ``(name, data, crc, uncompressed_size, method)`` with data
    already compressed (method 8) or stored (method 0)."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size, method in members:
        n = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, flags, method, 0, 0x21, crc,
                           len(data), size, len(n), 0) + n + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, flags, method, 0,
                               0x21, crc, len(data), size, len(n), 0, 0, 0, 0, 0, offset) + n
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                       len(central), cd_offset, 0)
    return bytes(out)


def zip_bomb(count: int, mib: int, fill: bytes = b"\0") -> bytes:
    """``count`` members of ``mib`` MiB of ``fill`` each (zeros: binary
    members; a letter: text members a scanner must stream)."""
    data, crc = deflate_repeated(mib, fill), crc_repeated(mib, fill)
    name = "zeros-{}.bin" if fill == b"\0" else "text-{}.txt"
    return raw_zip([(name.format(i), data, crc, mib * MIB, 8) for i in range(count)])


def zip_deflated(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def gzip_bomb(mib: int, fill: bytes = b"\0") -> bytes:
    header = b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x02\xff" + b"payload\x00"
    trailer = struct.pack("<II", crc_repeated(mib, fill), (mib * MIB) & 0xFFFFFFFF)
    return header + deflate_repeated(mib, fill) + trailer


def nested_zip(depth: int, payload: bytes, name: str = "note.txt") -> bytes:
    data = zip_deflated([(name, payload)])
    for level in range(depth - 1):
        data = zip_deflated([(f"level{level + 2}.zip", data)])
    return data


def encrypted_pdf() -> bytes:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=200, height=200)
    w.encrypt(user_password="not-empty", owner_password="owner",  # noqa: S106 - a test file
              algorithm="AES-128")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def sparse(path: Path, size: int, prefix: bytes = b"") -> None:
    with open(path, "wb") as f:
        f.write(prefix)
        f.truncate(size)


def big_text(path: Path, size: int = 200 * MIB) -> None:
    line = b"2026-11-21T10:00:00Z INFO request served for customer 1001 in 12 ms\n"
    block = line * (MIB // len(line) + 1)
    block = block[:MIB]
    with open(path, "wb") as f:
        for _ in range(size // MIB):
            f.write(block)


def special_files(d: Path) -> None:
    for name in ("passwd-link", "fifo", "socket"):
        (d / name).unlink(missing_ok=True)
    os.symlink("/etc/passwd", d / "passwd-link")
    os.mkfifo(d / "fifo")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(d / "socket"))
    finally:
        s.close()


def make_all(d: Path, big: bool = False) -> None:
    d.mkdir(parents=True, exist_ok=True)
    inner = zip_bomb(10, 1024)
    files = {
        "bomb-10g.zip": inner,
        "bomb-text-10g.zip": zip_bomb(10, 1024, b"A"),
        "bomb-nested.zip": zip_deflated([(f"inner-{i}.zip", inner) for i in range(10)]),
        "bomb-1g.gz": gzip_bomb(1024),
        "bomb-text-1g.gz": gzip_bomb(1024, b"A"),
        "bomb-nested.gz": gzip.compress(gzip_bomb(1024, b"A"), mtime=0),
        "many-members.zip": zip_deflated([(f"m{i}.txt", b"x") for i in range(10_001)]),
        "deep.zip": nested_zip(5, b"deep inside\n"),
        "encrypted.zip": raw_zip([("secret.txt", b"\x00" * 12 + b"x", 0, 1, 0)], flags=1),
        "truncated.gz": gzip.compress(b"a log line\n" * 10_000, mtime=0)[:200],
        "corrupt.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R\n%%EOF garbage",
        "encrypted.pdf": encrypted_pdf(),
        "invalid-utf8.txt": ("caf\u00e9 customer record \u2014 ok\n".encode() * 50
                             + b"broken \xff\xfe\xc3 bytes here\n"
                             + "na\u00efve r\u00e9sum\u00e9\n".encode() * 50),
        "cp1252.txt": "Gr\u00fc\u00dfe aus K\u00f6ln \u2013 \u20ac 12\n".encode("cp1252") * 20,
        "utf16le-bom.txt": "UTF-16 text with a BOM\n".encode("utf-16"),
        "utf16be-nobom.txt": "UTF-16 big endian without BOM\n".encode("utf-16-be"),
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
    }
    for name, data in files.items():
        (d / name).write_bytes(data)
    sparse(d / "sparse-200m.bin", 200 * MIB)
    sparse(d / "fake-200m.pdf", 200 * MIB, b"%PDF-1.7\n")
    special_files(d)
    if big:
        big_text(d / "big-200m.txt")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: make_hostile.py DIR [--big]")
    make_all(Path(sys.argv[1]), big="--big" in sys.argv[2:])
