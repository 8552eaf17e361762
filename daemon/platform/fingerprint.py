"""Keyed HMAC fingerprints of detected values.

The inventory may correlate the same value across files without storing it:
it keeps ``HMAC-SHA256(node key, normalised value)``. The key is generated on
first use (32 random bytes, 0600, in the state dir) and never leaves the node
unless an operator copies it to share fingerprints across a fleet."""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import stat
from pathlib import Path

from daemon.platform.files import atomic_write
from scratchwarden.errors import KeyMaterialError

KEY_NAME = "fingerprint.key"
KEY_BYTES = 32
_SEPARATORS = re.compile(r"[\s\-.()/]+")


def normalise(value: str) -> str:
    """Fold the spellings of one value together: case, spaces, dashes, dots."""
    return _SEPARATORS.sub("", value).casefold()


class Fingerprinter:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyMaterialError(f"fingerprint key: expected {KEY_BYTES} bytes, found {len(key)}")
        # keyed once: each call copies this state (the key's inner and outer
        # blocks already hashed); the HMAC costs ~1.7x less than ``hmac.digest``
        # keying it anew per value
        self._keyed = hmac.new(key, digestmod="sha256")

    def __call__(self, value: str) -> str:
        h = self._keyed.copy()
        h.update(normalise(value).encode("utf-8"))
        return h.hexdigest()

    def __repr__(self) -> str:
        return "Fingerprinter(<key hidden>)"

    @classmethod
    def from_state_dir(cls, state_dir: Path) -> Fingerprinter:
        return cls(load_or_create_key(state_dir / KEY_NAME))


def load_or_create_key(path: Path) -> bytes:
    """Read the key, creating it on first use: written whole to a temp file and
    published with a no-clobber link, so scan workers starting together on a
    fresh state dir all read the one key (an O_EXCL create let a second worker
    read the file before its bytes were written, and a crash there left an
    empty key for good). A key file readable by group/other or of the wrong
    size is refused.

    Raises:
        KeyMaterialError: the key file cannot be opened (a symlink included), is not 32 bytes, or is
            readable by others.
    """
    with contextlib.suppress(FileExistsError):
        atomic_write(path, os.urandom(KEY_BYTES), 0o600, clobber=False)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise KeyMaterialError(f"cannot open fingerprint key {path}: {e.strerror}") from e
    try:
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise KeyMaterialError(
                f"fingerprint key {path}: expected mode 0600 or stricter, "
                f"found {stat.S_IMODE(st.st_mode):04o}")
        key = os.read(fd, KEY_BYTES + 1)
    finally:
        os.close(fd)
    if len(key) != KEY_BYTES:
        raise KeyMaterialError(
            f"fingerprint key {path}: expected {KEY_BYTES} bytes, found {len(key)}")
    return key
