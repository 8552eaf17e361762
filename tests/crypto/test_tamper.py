"""Any change to an encrypted file, or the wrong key, is a clear error; nothing
is written, the ciphertext stays, and no error message carries content."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.crypto import CiphertextError, Keyring, decrypt_file, encrypt_file
from daemon.crypto.format import BODY_OFFSET, DEFAULT_CHUNK_SIZE, SLOT_OFFSETS, TAG_SIZE
from scratchwarden.errors import KeyMaterialError, ScratchwardenError

MARKER = b"SSN 078-05-1120"  # the fake marker conftest.make_file writes
MakeFile = Callable[[str, int], tuple[Path, bytes]]
SEALED = DEFAULT_CHUNK_SIZE + TAG_SIZE
SIZE = 3 * DEFAULT_CHUNK_SIZE + 100  # four chunks, the last one short


def _flip(offset: int) -> Callable[[bytearray], bytearray]:
    def edit(raw: bytearray) -> bytearray:
        raw[offset] ^= 0x01
        return raw
    return edit


def _swap_chunks(raw: bytearray) -> bytearray:
    a = raw[BODY_OFFSET:BODY_OFFSET + SEALED]
    b = raw[BODY_OFFSET + SEALED:BODY_OFFSET + 2 * SEALED]
    raw[BODY_OFFSET:BODY_OFFSET + 2 * SEALED] = b + a
    return raw


EDITS: dict[str, tuple[Callable[[bytearray], bytearray], str]] = {
    "magic": (_flip(0), "bad-magic"),
    "header-size-field": (_flip(40), "key-slot-auth-failed"),
    "header-mode-field": (_flip(26), "key-slot-auth-failed"),
    "header-padding": (_flip(300), "bad-header"),
    "wrapped-key": (_flip(SLOT_OFFSETS[0] + 50), "key-slot-auth-failed"),
    "wrap-nonce": (_flip(SLOT_OFFSETS[0] + 33), "key-slot-auth-failed"),
    "body-first-chunk": (_flip(BODY_OFFSET + 10), "chunk-auth-failed"),
    "body-tag-of-last-chunk": (_flip(-1), "chunk-auth-failed"),
    "swap-chunks": (_swap_chunks, "chunk-auth-failed"),
    "truncate-one-byte": (lambda r: r[:-1], "truncated"),
    "drop-last-chunk": (lambda r: r[:BODY_OFFSET + 3 * SEALED], "truncated"),
    "truncate-into-header": (lambda r: r[:700], "truncated"),
    "append-byte": (lambda r: r + b"\0", "trailing-data"),
}


def _assert_refused(enc: Path, keyring: Keyring, code: str) -> CiphertextError:
    before = sorted(os.listdir(enc.parent))
    with pytest.raises(CiphertextError) as e:
        decrypt_file(enc, keyring)
    assert e.value.reason == code
    assert MARKER.decode() not in str(e.value)
    assert sorted(os.listdir(enc.parent)) == before  # no output, no temp file left
    return e.value


@pytest.mark.parametrize("case", sorted(EDITS))
def test_tampering_is_detected(case: str, make_file: MakeFile, keyring: Keyring) -> None:
    path, _ = make_file("notes.txt", SIZE)
    enc = encrypt_file(path, keyring)
    edit, code = EDITS[case]
    enc.write_bytes(bytes(edit(bytearray(enc.read_bytes()))))
    _assert_refused(enc, keyring, code)


def test_chunk_from_another_file_is_detected(make_file: MakeFile, keyring: Keyring) -> None:
    a = encrypt_file(make_file("a", SIZE)[0], keyring)
    b = encrypt_file(make_file("b", SIZE)[0], keyring)
    raw_a, raw_b = bytearray(a.read_bytes()), b.read_bytes()
    raw_a[BODY_OFFSET + SEALED:BODY_OFFSET + 2 * SEALED] = \
        raw_b[BODY_OFFSET + SEALED:BODY_OFFSET + 2 * SEALED]
    a.write_bytes(bytes(raw_a))
    _assert_refused(a, keyring, "chunk-auth-failed")


def test_key_slot_from_another_file_is_detected(make_file: MakeFile, keyring: Keyring) -> None:
    """The wrap AAD binds the header hash: b's slot (same KEK) does not open in a."""
    a = encrypt_file(make_file("a", 100)[0], keyring)
    b = encrypt_file(make_file("b", 100)[0], keyring)
    raw_a, raw_b = bytearray(a.read_bytes()), b.read_bytes()
    raw_a[SLOT_OFFSETS[0]:SLOT_OFFSETS[1]] = raw_b[SLOT_OFFSETS[0]:SLOT_OFFSETS[1]]
    a.write_bytes(bytes(raw_a))
    _assert_refused(a, keyring, "key-slot-auth-failed")


def test_wrong_key_material_under_same_id(make_file: MakeFile, keyring: Keyring) -> None:
    enc = encrypt_file(make_file("x", 100)[0], keyring)
    impostor = Keyring(keyring.active_id, {keyring.active_id: os.urandom(32)})
    err = _assert_refused(enc, impostor, "key-slot-auth-failed")
    assert keyring.active_id in str(err)


def test_unknown_kek_names_the_missing_id(make_file: MakeFile, keyring: Keyring) -> None:
    enc = encrypt_file(make_file("x", 100)[0], keyring)
    other = Keyring("kek-other", {"kek-other": os.urandom(32)})
    with pytest.raises(KeyMaterialError, match=keyring.active_id):
        decrypt_file(enc, other)
    assert enc.exists() and not (enc.parent / "x").exists()


def test_not_an_encrypted_file(data_dir: Path, keyring: Keyring) -> None:
    fake = data_dir / "plain.swenc"
    fake.write_bytes(MARKER * 200)
    with pytest.raises(ScratchwardenError) as e:
        decrypt_file(fake, keyring)
    assert isinstance(e.value, CiphertextError) and e.value.reason == "bad-magic"
    assert MARKER.decode() not in str(e.value)
