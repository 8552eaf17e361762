"""The on-disk layout of an encrypted file (``*.swenc``), packed and parsed
without any I/O or cryptography, so the layout can be tested on its own.

Layout (all integers big-endian)::

    offset  size  field
    ------  ----  ------------------------------------------------------------
    0       512   FILE HEADER (sector 0), immutable once written
             7      magic  b"SWENC1\\0"
             1      format version = 1
             1      flags = 0 (reserved)
             1      suite = 1 (AES-256-GCM wrap, AES-256-GCM chunks)
             2      reserved = 0
             4      chunk size in bytes (4 KiB .. 16 MiB; default 64 KiB)
             8      nonce prefix (random per file)
             4      original mode (st_mode & 0o7777)
             4      original uid
             4      original gid
             8      original size in bytes
             8      original mtime in ns (signed)
             ...    zero padding to 512 (must be zero)
    512     512   KEY SLOT 0 (sector 1)
    1024    512   KEY SLOT 1 (sector 2)
             32     KEK id, ASCII, NUL-padded (all zero = empty slot)
             12     wrap nonce (random)
             48     AES-256-GCM(KEK, data key 32 B) ciphertext + 16 B tag,
                    AAD = b"SWENC1 slot\\0" || SHA-256(file header) || KEK id field
             ...    zero padding to 512
    1536    ...   BODY: ceil(size / chunk size) chunks (at least one), chunk i =
                  AES-256-GCM(data key, nonce = prefix || u32(i),
                              AAD = SHA-256(file header) || u64(i) || u8(last))
                  = plaintext length + 16 bytes tag.

Why this shape: the body and the slot wraps bind the hash of the immutable file
header, never the key slots, so a KEK rotation rewrites one 512-byte slot in
place and never touches the body. Two slots, each in its own sector, make the
in-place rewrap crash-safe: the new wrap goes into the free slot and is synced
before the old slot is zeroed, so at every instant at least one complete slot
holds the data key.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

MAGIC = b"SWENC1\0"
FORMAT_VERSION = 1
SUITE_AES256GCM = 1
SECTOR = 512
HEADER_SIZE = SECTOR
SLOT_COUNT = 2
SLOT_OFFSETS = (SECTOR, 2 * SECTOR)
BODY_OFFSET = 3 * SECTOR
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 4 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
NONCE_PREFIX_SIZE = 8
TAG_SIZE = 16
KEK_ID_SIZE = 32
WRAP_NONCE_SIZE = 12
WRAPPED_KEY_SIZE = 32 + TAG_SIZE
SUFFIX = ".swenc"

_HEADER = struct.Struct(">7sBBBHI8sIIIQq")
_SLOT = struct.Struct(f">{KEK_ID_SIZE}s{WRAP_NONCE_SIZE}s{WRAPPED_KEY_SIZE}s")


class FormatError(ValueError):
    """The bytes are not a valid header or slot. Callers wrap it in a
    ``CiphertextError`` with the reason ``code``."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"{code}: {detail}")


@dataclass(frozen=True)
class FileHeader:
    """The immutable part of an encrypted file's header."""

    chunk_size: int
    nonce_prefix: bytes
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int

    def pack(self) -> bytes:
        fixed = _HEADER.pack(MAGIC, FORMAT_VERSION, 0, SUITE_AES256GCM, 0, self.chunk_size,
                             self.nonce_prefix, self.mode, self.uid, self.gid, self.size,
                             self.mtime_ns)
        return fixed.ljust(HEADER_SIZE, b"\0")

    def chunk_count(self) -> int:
        """At least one chunk: an empty file is one empty, final chunk."""
        return max(1, -(-self.size // self.chunk_size))

    def chunk_plain_len(self, index: int) -> int:
        last = self.chunk_count() - 1
        return self.chunk_size if index < last else self.size - last * self.chunk_size

    def encrypted_size(self) -> int:
        return BODY_OFFSET + self.size + TAG_SIZE * self.chunk_count()


@dataclass(frozen=True)
class KeySlot:
    """One wrap of the file's data key under one KEK."""

    kek_id: str
    nonce: bytes
    wrapped: bytes

    def pack(self) -> bytes:
        return _SLOT.pack(self.kek_id.encode("ascii"), self.nonce, self.wrapped).ljust(
            SECTOR, b"\0")


EMPTY_SLOT = bytes(SECTOR)


def header_hash(header_bytes: bytes) -> bytes:
    return hashlib.sha256(header_bytes).digest()


def kek_id_field(kek_id: str) -> bytes:
    """The 32-byte NUL-padded id as stored (and bound into the wrap AAD)."""
    raw = kek_id.encode("ascii")
    if not raw or len(raw) > KEK_ID_SIZE:
        raise FormatError("bad-header", f"KEK id must be 1..{KEK_ID_SIZE} ASCII bytes")
    return raw.ljust(KEK_ID_SIZE, b"\0")


def parse_header(raw: bytes) -> FileHeader:
    """Parse sector 0; refuse anything this version did not write."""
    if len(raw) < HEADER_SIZE or not raw.startswith(MAGIC):
        raise FormatError("bad-magic", f"expected {MAGIC!r} at offset 0")
    (_, version, flags, suite, reserved, chunk_size, prefix, mode, uid, gid, size,
     mtime_ns) = _HEADER.unpack_from(raw)
    if version != FORMAT_VERSION:
        raise FormatError("bad-header", f"expected format version 1, found {version}")
    if flags or reserved or suite != SUITE_AES256GCM:
        raise FormatError("bad-header", f"expected suite 1 and zero flags, found "
                                        f"suite {suite} flags {flags}/{reserved}")
    if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise FormatError("bad-header", f"chunk size {chunk_size} outside "
                                        f"{MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    if any(raw[_HEADER.size:HEADER_SIZE]):
        raise FormatError("bad-header", "expected zero padding after the header fields")
    header = FileHeader(chunk_size, prefix, mode, uid, gid, size, mtime_ns)
    if header.chunk_count() > 2**32:
        raise FormatError("bad-header", "more chunks than the 32-bit nonce counter allows")
    return header


def parse_slot(raw: bytes) -> KeySlot | None:
    """Parse one slot sector; ``None`` for an empty (all-zero) slot."""
    if len(raw) != SECTOR:
        raise FormatError("truncated", f"expected a {SECTOR}-byte key slot, found {len(raw)}")
    if not any(raw):
        return None
    id_field, nonce, wrapped = _SLOT.unpack_from(raw)
    kek_id = id_field.rstrip(b"\0")
    if any(raw[_SLOT.size:]) or b"\0" in kek_id or not kek_id.isascii():
        raise FormatError("bad-header", "key slot is malformed")
    return KeySlot(kek_id.decode("ascii"), nonce, wrapped)
