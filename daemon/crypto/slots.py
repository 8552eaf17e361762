"""Reading an encrypted file's header and key slots from an open fd, choosing
and opening a slot with the keyring, and rewrapping a slot in place.

The in-place rewrap is the reason for two slots (see ``format``): write the
new wrap into the free slot, fdatasync, then zero the old slot, fdatasync. A
crash at any point leaves at least one complete, authenticating slot.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from daemon.crypto.envelope import unwrap_data_key, wrap_data_key
from daemon.crypto.format import (
    EMPTY_SLOT,
    HEADER_SIZE,
    SECTOR,
    SLOT_COUNT,
    SLOT_OFFSETS,
    FileHeader,
    FormatError,
    KeySlot,
    header_hash,
    parse_header,
    parse_slot,
)
from daemon.crypto.keys import Keyring
from scratchwarden.errors import CiphertextError, KeyMaterialError

Hook = Callable[[str], None]


@dataclass(frozen=True)
class Envelope:
    """What precedes the body: the immutable header, its hash, the key slots."""

    header: FileHeader
    hhash: bytes
    slots: tuple[KeySlot | None, ...]

    def kek_ids(self) -> tuple[str, ...]:
        return tuple(s.kek_id for s in self.slots if s is not None)


def _pread_exact(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise CiphertextError("truncated", f"expected {size} bytes at offset {offset}, "
                                           f"found {len(data)}")
    return data


def read_envelope(fd: int) -> Envelope:
    """The header and key slots of an open encrypted file.

    Raises:
        CiphertextError: not a scratchwarden encrypted file, or a malformed header.
    """
    try:
        raw = _pread_exact(fd, HEADER_SIZE, 0)
        header = parse_header(raw)
        slots = tuple(parse_slot(_pread_exact(fd, SECTOR, off)) for off in SLOT_OFFSETS)
    except FormatError as e:
        raise CiphertextError(e.code, e.detail) from e
    except CiphertextError as e:
        if e.reason == "truncated" and not os.pread(fd, len(b"SWENC1\0"), 0).startswith(
                b"SWENC1\0"):
            raise CiphertextError("bad-magic", "not a scratchwarden encrypted file") from e
        raise
    return Envelope(header, header_hash(raw), slots)


def unlock(env: Envelope, keyring: Keyring) -> tuple[bytes, int]:
    """The data key and the index of the slot that opened it. Tries the slot
    wrapped under the active KEK first. Raises ``KeyMaterialError`` when no slot
    names a KEK in the keyring, ``CiphertextError`` when none authenticates.

    Raises:
        KeyMaterialError: the keyring holds none of the KEKs the file is wrapped under.
        CiphertextError: no slot opens (empty, or it does not authenticate).
    """
    usable = [(i, s) for i, s in enumerate(env.slots)
              if s is not None and s.kek_id in keyring.keys]
    if not usable:
        if not env.kek_ids():
            raise CiphertextError("no-usable-key-slot", "both key slots are empty")
        raise KeyMaterialError(f"this file's data key is wrapped under KEK(s) "
                               f"{list(env.kek_ids())}; the keyring holds {sorted(keyring.keys)}")
    usable.sort(key=lambda pair: pair[1].kek_id != keyring.active_id)
    error: CiphertextError | None = None
    for i, slot in usable:
        try:
            return unwrap_data_key(slot, keyring.get(slot.kek_id), env.hhash), i
        except CiphertextError as e:
            error = e
    assert error is not None
    raise error


def rewrap_fd(fd: int, env: Envelope, keyring: Keyring, hook: Hook) -> bool:
    """Make the active KEK the file's only key slot, in place. Returns False when
    it already is. ``fd`` must be open for writing; the body is never touched."""
    kek_id, kek = keyring.active()
    data_key, keep = unlock(env, keyring)  # authenticates before anything is written
    live = env.kek_ids()
    if live == (kek_id,):
        return False
    new_slot = wrap_data_key(kek_id, kek, data_key, env.hhash)
    _pwrite_sync(fd, new_slot.pack(), SLOT_OFFSETS[1 - keep])
    hook("slot-written")
    _pwrite_sync(fd, EMPTY_SLOT, SLOT_OFFSETS[keep])
    hook("old-slot-cleared")
    return True


def _pwrite_sync(fd: int, data: bytes, offset: int) -> None:
    if os.pwrite(fd, data, offset) != len(data):
        raise OSError(f"short write of a key slot at offset {offset}")
    os.fdatasync(fd)


assert SLOT_COUNT == 2  # rewrap_fd's "1 - keep" relies on exactly two slots
