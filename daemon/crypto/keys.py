"""Key-encryption keys (KEKs): the keyring, where it is loaded from, and how
it is generated and changed.

A KEK is 32 random bytes with an id like ``kek-2026-11-22-ab12cd34``. One KEK is
*active* (it wraps the data keys of new files); the others are retained so older
files still decrypt, until ``retire`` removes them.

Two storage layouts, both text, base64 for key bytes::

    keyring FILE (also the form of a systemd credential):
        # comment
        version 1
        active kek-2026-11-22-ab12cd34
        kek kek-2026-11-22-ab12cd34 <base64 32 bytes>
        kek kek-2026-05-01-0badf00d <base64 32 bytes>

    key DIRECTORY:
        <id>.kek     one per KEK, content: <base64 32 bytes>
        active       content: <id>

Every key file must be a regular file (no symlink) owned by the current user
with mode 0400 or 0600; a key directory must be owned by the current user and
not writable by group or others. Anything else is a ``KeyMaterialError``: a
key someone else could read or swap is not a key. Errors name the file and
line, never key bytes; ``Keyring``'s repr shows ids only.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
import re
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from daemon.platform.files import atomic_write, fsync_dir
from scratchwarden.errors import KeyMaterialError

KEK_SIZE = 32
ACTIVE_FILE = "active"
KEK_SUFFIX = ".kek"
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}\Z")
_ALLOWED_FILE_MODES = (0o400, 0o600)
_MAX_KEY_FILE = 1 << 20


@dataclass(frozen=True)
class Keyring:
    """KEKs by id, and which one is active. Immutable: changes return a new one."""

    active_id: str
    keys: Mapping[str, bytes] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        for kek_id, key in self.keys.items():
            check_kek_id(kek_id)
            if len(key) != KEK_SIZE:
                raise KeyMaterialError(f"KEK {kek_id!r}: expected {KEK_SIZE} bytes, "
                                       f"found {len(key)}")
        if self.active_id not in self.keys:
            raise KeyMaterialError(f"active KEK {self.active_id!r} is not in the keyring "
                                   f"(holds {sorted(self.keys)})")

    def __repr__(self) -> str:
        return f"Keyring(active_id={self.active_id!r}, ids={sorted(self.keys)!r})"

    def active(self) -> tuple[str, bytes]:
        return self.active_id, self.keys[self.active_id]

    def get(self, kek_id: str) -> bytes:
        """The KEK ``kek_id``.

        Raises:
            KeyMaterialError: the keyring does not hold it (retired, or another keyring).
        """
        try:
            return self.keys[kek_id]
        except KeyError:
            raise KeyMaterialError(
                f"no KEK {kek_id!r} in the keyring (holds {sorted(self.keys)}); it was "
                "retired or the wrong keyring is loaded") from None

    def with_active(self, kek_id: str, key: bytes) -> Keyring:
        """A keyring with ``key`` added as ``kek_id`` and made active.

        Raises:
            KeyMaterialError: ``kek_id`` is already in the keyring.
        """
        if kek_id in self.keys:
            raise KeyMaterialError(f"KEK id {kek_id!r} already exists in the keyring")
        return Keyring(kek_id, {**self.keys, kek_id: key})

    def without(self, kek_id: str) -> Keyring:
        """A keyring without ``kek_id``.

        Raises:
            KeyMaterialError: ``kek_id`` is the active KEK (rotate first) or not held.
        """
        if kek_id == self.active_id:
            raise KeyMaterialError(f"KEK {kek_id!r} is active; rotate before retiring it")
        self.get(kek_id)
        return Keyring(self.active_id, {k: v for k, v in self.keys.items() if k != kek_id})


def check_kek_id(kek_id: str) -> str:
    """``kek_id`` if it is a valid KEK id.

    Raises:
        KeyMaterialError: it is not 1-32 characters of ``[A-Za-z0-9._-]`` starting with a letter.
    """
    if not _ID_RE.match(kek_id):
        raise KeyMaterialError(f"KEK id {kek_id!r}: expected 1-32 characters of "
                               "[A-Za-z0-9._-] starting with a letter or digit")
    return kek_id


def new_kek_id(existing: Mapping[str, bytes] | None = None,
               now: dt.datetime | None = None) -> str:
    day = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d")
    while True:
        kek_id = f"kek-{day}-{secrets.token_hex(4)}"
        if not existing or kek_id not in existing:
            return kek_id


# --- loading -----------------------------------------------------------------

def _read_key_file(path: Path, dir_fd: int | None = None) -> str:
    """Read a small key file without following symlinks, checking what was
    opened (fstat), not the name, so a swap after the check cannot matter."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=dir_fd)
    except OSError as e:
        raise KeyMaterialError(f"{path}: cannot open key file "
                               f"(expected a regular file, not a symlink): {e.strerror}") from e
    try:
        st = os.fstat(fd)
        _check_key_file_stat(path, st)
        data = os.read(fd, _MAX_KEY_FILE + 1)
    finally:
        os.close(fd)
    if len(data) > _MAX_KEY_FILE:
        raise KeyMaterialError(f"{path}: key file larger than {_MAX_KEY_FILE} bytes")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError as e:
        raise KeyMaterialError(f"{path}: expected ASCII text (base64 keys)") from e


def _check_key_file_stat(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise KeyMaterialError(f"{path}: expected a regular file")
    if st.st_uid != os.geteuid():
        raise KeyMaterialError(f"{path}: expected owner uid {os.geteuid()}, found {st.st_uid}")
    mode = stat.S_IMODE(st.st_mode)
    if mode not in _ALLOWED_FILE_MODES:
        raise KeyMaterialError(f"{path}: expected mode 0400 or 0600, found {mode:04o}")


def _check_key_dir(path: Path) -> None:
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise KeyMaterialError(f"{path}: expected a directory (not a symlink)")
    if st.st_uid != os.geteuid():
        raise KeyMaterialError(f"{path}: expected owner uid {os.geteuid()}, found {st.st_uid}")
    if stat.S_IMODE(st.st_mode) & 0o022:
        raise KeyMaterialError(f"{path}: expected a directory not writable by group/others, "
                               f"found mode {stat.S_IMODE(st.st_mode):04o}")


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as e:
        raise KeyMaterialError(f"{where}: expected base64 key material") from e
    if len(key) != KEK_SIZE:
        raise KeyMaterialError(f"{where}: expected a {KEK_SIZE}-byte key, found {len(key)} bytes")
    return key


def parse_keyring_text(text: str, source: str) -> Keyring:
    """Parse the keyring file format (see module docstring).

    Raises:
        KeyMaterialError: the text is not a version 1 keyring (the message names the line).
    """
    version, active, keys = None, None, {}
    for lineno, line in enumerate(text.splitlines(), 1):
        where = f"{source}:{lineno}"
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        match words:
            case ["version", v]:
                version = v
            case ["active", kek_id]:
                active = check_kek_id(kek_id)
            case ["kek", kek_id, b64]:
                if kek_id in keys:
                    raise KeyMaterialError(f"{where}: KEK {kek_id!r} listed twice")
                keys[check_kek_id(kek_id)] = _decode_key(b64, where)
            case _:
                raise KeyMaterialError(f"{where}: expected 'version N', 'active ID' or "
                                       f"'kek ID BASE64', found a line starting {words[0]!r}")
    if version != "1":
        raise KeyMaterialError(f"{source}: expected 'version 1', found {version!r}")
    if active is None:
        raise KeyMaterialError(f"{source}: expected an 'active ID' line")
    return Keyring(active, keys)


def _load_dir(path: Path) -> Keyring:
    _check_key_dir(path)
    keys: dict[str, bytes] = {}
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        active = _read_key_file(Path(ACTIVE_FILE), dfd).strip()
        for name in sorted(os.listdir(dfd)):
            if name.endswith(KEK_SUFFIX):
                kek_id = check_kek_id(name[: -len(KEK_SUFFIX)])
                keys[kek_id] = _decode_key(_read_key_file(Path(name), dfd), str(path / name))
    finally:
        os.close(dfd)
    return Keyring(check_kek_id(active), keys)


def load_keyring(path: str | os.PathLike[str]) -> Keyring:
    """Load a keyring from a keyring file or a key directory.

    Raises:
        KeyMaterialError: not found, unsafe permissions, or malformed.
    """
    p = Path(path)
    try:
        is_dir = stat.S_ISDIR(os.lstat(p).st_mode)
    except OSError as e:
        raise KeyMaterialError(f"{p}: keyring not found: {e.strerror}") from e
    if is_dir:
        return _load_dir(p)
    return parse_keyring_text(_read_key_file(p), str(p))


def load_credential(name: str, environ: Mapping[str, str] | None = None) -> Keyring:
    """Load the keyring from a systemd credential (``LoadCredential=`` /
    ``LoadCredentialEncrypted=``), i.e. ``$CREDENTIALS_DIRECTORY/<name>``.

    Raises:
        KeyMaterialError: not running under systemd with the credential, a bad name, or a malformed
            keyring.
    """
    env = os.environ if environ is None else environ
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if not cred_dir:
        raise KeyMaterialError("CREDENTIALS_DIRECTORY is not set: expected the daemon to run "
                               f"under systemd with LoadCredential={name}:...")
    if "/" in name or name in ("", ".", ".."):
        raise KeyMaterialError(f"credential name {name!r}: expected a plain file name")
    return load_keyring(Path(cred_dir) / name)


# --- saving ------------------------------------------------------------------

def format_keyring_text(keyring: Keyring) -> str:
    lines = ["# scratchwarden keyring: key-encryption keys, base64. Keep mode 0600.",
             "version 1", f"active {keyring.active_id}"]
    lines += [f"kek {kek_id} {base64.b64encode(key).decode()}"
              for kek_id, key in sorted(keyring.keys.items())]
    return "\n".join(lines) + "\n"


def save_keyring(path: str | os.PathLike[str], keyring: Keyring) -> None:
    """Durably write ``keyring`` in the layout already at ``path`` (a directory
    stays a directory; anything else is written as a keyring file, 0600).
    In a directory, new key files are written before the ``active`` pointer and
    retired ones removed after it, so a crash never leaves ``active`` dangling."""
    p = Path(path)
    if p.is_dir() and not p.is_symlink():
        _check_key_dir(p)
        for kek_id, key in keyring.keys.items():
            if not (p / f"{kek_id}{KEK_SUFFIX}").exists():
                atomic_write(p / f"{kek_id}{KEK_SUFFIX}", base64.b64encode(key) + b"\n", 0o600)
        atomic_write(p / ACTIVE_FILE, keyring.active_id.encode() + b"\n", 0o600)
        for name in os.listdir(p):
            if name.endswith(KEK_SUFFIX) and name[: -len(KEK_SUFFIX)] not in keyring.keys:
                os.unlink(p / name)
        fsync_dir(p)
    else:
        atomic_write(p, format_keyring_text(keyring).encode(), 0o600)


def generate_keyring(path: str | os.PathLike[str], *, directory: bool = False,
                     now: dt.datetime | None = None) -> Keyring:
    """``keys generate``: a new keyring with one fresh active KEK. Refuses to
    overwrite an existing keyring (that would orphan every file wrapped by it).

    Raises:
        KeyMaterialError: a keyring or another file already exists at ``path``.
    """
    p = Path(path)
    if directory:
        p.mkdir(mode=0o700, exist_ok=True)
        if (p / ACTIVE_FILE).exists() or any(p.glob(f"*{KEK_SUFFIX}")):
            raise KeyMaterialError(f"{p}: a keyring already exists here; refusing to replace it")
    elif p.exists() or p.is_symlink():
        raise KeyMaterialError(f"{p}: a file already exists here; refusing to replace it")
    kek_id = new_kek_id(now=now)
    keyring = Keyring(kek_id, {kek_id: secrets.token_bytes(KEK_SIZE)})
    save_keyring(p, keyring)
    return keyring


def add_active_kek(path: str | os.PathLike[str], *, now: dt.datetime | None = None) -> Keyring:
    """First half of ``keys rotate``: a fresh KEK becomes active and is durable
    on disk before any file is wrapped under it."""
    old = load_keyring(path)
    kek_id = new_kek_id(old.keys, now)
    new = old.with_active(kek_id, secrets.token_bytes(KEK_SIZE))
    save_keyring(path, new)
    return new
