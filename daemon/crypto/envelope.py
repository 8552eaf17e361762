"""The cryptography of one encrypted file, without I/O: wrapping the per-file
data key under a KEK, and sealing/opening body chunks.

Why AES-GCM for the wrap and not AES-KW (RFC 3394): GCM takes associated data,
so each wrap is bound to its file's header hash and its KEK id; a key slot
copied into another file, or relabelled with another KEK id, fails to open.
The wrap nonce is random (96 bits) and a KEK wraps one data key per file and
rotation, far below GCM's random-nonce limit.

Each chunk's nonce is the file's random 8-byte prefix || the 32-bit chunk
index; the data key is fresh per file, so (key, nonce) never repeats. Each
chunk's AAD binds the header hash, the index and a last-chunk flag: chunks
cannot be reordered, dropped from the end, or moved to another file.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from daemon.crypto.format import (
    NONCE_PREFIX_SIZE,
    WRAP_NONCE_SIZE,
    FileHeader,
    KeySlot,
    kek_id_field,
)
from scratchwarden.errors import CiphertextError

DATA_KEY_SIZE = 32
_SLOT_AAD = b"SWENC1 slot\0"


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


def new_nonce_prefix() -> bytes:
    return os.urandom(NONCE_PREFIX_SIZE)


def _slot_aad(hhash: bytes, kek_id: str) -> bytes:
    return _SLOT_AAD + hhash + kek_id_field(kek_id)


def wrap_data_key(kek_id: str, kek: bytes, data_key: bytes, hhash: bytes) -> KeySlot:
    nonce = os.urandom(WRAP_NONCE_SIZE)
    wrapped = AESGCM(kek).encrypt(nonce, data_key, _slot_aad(hhash, kek_id))
    return KeySlot(kek_id, nonce, wrapped)


def unwrap_data_key(slot: KeySlot, kek: bytes, hhash: bytes) -> bytes:
    """The data key of ``slot``, unwrapped with ``kek``.

    Raises:
        CiphertextError: the slot does not authenticate under ``kek`` (``key-slot-auth-failed``).
    """
    try:
        return AESGCM(kek).decrypt(slot.nonce, slot.wrapped, _slot_aad(hhash, slot.kek_id))
    except InvalidTag as e:
        raise CiphertextError(
            "key-slot-auth-failed",
            f"the key slot for KEK {slot.kek_id!r} does not authenticate: either the "
            "keyring holds different key material under that id, or the header was altered",
        ) from e


class ChunkCipher:
    """Seals and opens the body chunks of one file under its data key."""

    def __init__(self, data_key: bytes, header: FileHeader, hhash: bytes) -> None:
        self._aead = AESGCM(data_key)
        self._prefix = header.nonce_prefix
        self._hhash = hhash
        self._last = header.chunk_count() - 1

    def _nonce_aad(self, index: int) -> tuple[bytes, bytes]:
        nonce = self._prefix + struct.pack(">I", index)
        aad = self._hhash + struct.pack(">QB", index, index == self._last)
        return nonce, aad

    def seal(self, index: int, plaintext: bytes) -> bytes:
        nonce, aad = self._nonce_aad(index)
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, index: int, ciphertext: bytes) -> bytes:
        """The plaintext of chunk ``index``.

        Raises:
            CiphertextError: the chunk does not authenticate (``chunk-auth-failed``): altered,
                reordered or truncated.
        """
        nonce, aad = self._nonce_aad(index)
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag as e:
            raise CiphertextError(
                "chunk-auth-failed",
                f"chunk {index} of {self._last + 1} does not authenticate "
                "(altered, reordered, or from another file)",
            ) from e
