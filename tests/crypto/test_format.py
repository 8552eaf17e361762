"""The byte layout on its own: pack/parse round trip and strict parsing."""

from __future__ import annotations

import pytest

from daemon.crypto.format import (
    BODY_OFFSET,
    HEADER_SIZE,
    SECTOR,
    TAG_SIZE,
    FileHeader,
    FormatError,
    KeySlot,
    parse_header,
    parse_slot,
)

HEADER = FileHeader(65536, b"\x01" * 8, 0o640, 1000, 1000, 200_000, 1_700_000_000_123_456_789)


def test_header_round_trip_and_size() -> None:
    raw = HEADER.pack()
    assert len(raw) == HEADER_SIZE and raw.startswith(b"SWENC1\0\x01")
    assert parse_header(raw) == HEADER


@pytest.mark.parametrize(("size", "chunks", "last_len"), [
    (0, 1, 0), (1, 1, 1), (65536, 1, 65536), (65537, 2, 1), (3 * 65536, 3, 65536)])
def test_chunking(size: int, chunks: int, last_len: int) -> None:
    h = FileHeader(65536, b"\0" * 8, 0o600, 0, 0, size, 0)
    assert h.chunk_count() == chunks
    assert h.chunk_plain_len(chunks - 1) == last_len
    assert h.encrypted_size() == BODY_OFFSET + size + TAG_SIZE * chunks


@pytest.mark.parametrize(("offset", "code"), [
    (0, "bad-magic"), (7, "bad-header"), (8, "bad-header"), (9, "bad-header"),
    (400, "bad-header")])
def test_parse_refuses_altered_fields(offset: int, code: str) -> None:
    raw = bytearray(HEADER.pack())
    raw[offset] ^= 0x40
    with pytest.raises(FormatError) as e:
        parse_header(bytes(raw))
    assert e.value.code == code


def test_chunk_size_bounds_are_enforced() -> None:
    for bad in (1024, 64 * 1024 * 1024):
        raw = FileHeader(bad, b"\0" * 8, 0, 0, 0, 0, 0).pack()
        with pytest.raises(FormatError, match="chunk size"):
            parse_header(raw)


def test_slot_round_trip_and_empty() -> None:
    slot = KeySlot("kek-2026-11-22-ab12", b"\2" * 12, b"\3" * 48)
    raw = slot.pack()
    assert len(raw) == SECTOR
    assert parse_slot(raw) == slot
    assert parse_slot(bytes(SECTOR)) is None
    with pytest.raises(FormatError):
        parse_slot(raw[:-1] + b"\x01")
