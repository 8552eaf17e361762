"""KEK rotation and retirement across encrypted files (``keys rotate``,
``keys retire``), and the header scan that tells which KEK each file uses.

Rotation = a fresh KEK becomes active and is saved durably, *then* every
``*.swenc`` file under the given roots gets its data key rewrapped in place
(``slots.rewrap_fd``; the body is never read or written). Re-running a rotation
or a rewrap is safe: files already wrapped only under the active KEK are left
alone. Retirement refuses while any file still names the KEK, or while any
encrypted file could not be read (it might name it).
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from daemon.crypto.format import SUFFIX
from daemon.crypto.keys import Keyring, add_active_kek, load_keyring, save_keyring
from daemon.crypto.slots import Hook, read_envelope, rewrap_fd
from daemon.platform.files import open_dir
from scratchwarden.errors import KeyMaterialError, ScratchwardenError, UnsafePath

PathLike = str | os.PathLike[str]


def _no_hook(step: str) -> None:
    """Default hook: nothing."""


@dataclass
class RotationReport:
    active_id: str
    rewrapped: list[Path] = field(default_factory=list)
    already_current: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class KekUsage:
    by_kek: dict[str, list[Path]] = field(default_factory=dict)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)


def iter_encrypted(roots: Iterable[PathLike],
                   on_error: Callable[[Path, str], None]) -> Iterator[Path]:
    """Every ``*.swenc`` regular file under ``roots``; symlinks are not followed.
    A root or directory that cannot be listed goes to ``on_error`` (os.walk
    would skip it silently, and a skipped file could still use a KEK)."""
    def walk_error(e: OSError) -> None:
        on_error(Path(e.filename or "?"), f"cannot list directory: {e.strerror}")

    for root in roots:
        for dirpath, _dirs, files in os.walk(root, onerror=walk_error, followlinks=False):
            for name in sorted(files):
                p = Path(dirpath, name)
                if name.endswith(SUFFIX) and stat.S_ISREG(os.lstat(p).st_mode):
                    yield p


def _open_encrypted(path: Path, flags: int) -> int:
    dir_fd = open_dir(path.parent)
    try:
        fd = os.open(path.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                     dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise UnsafePath("not-single-regular-file",
                         f"{path}: expected a regular file with 1 link, found "
                         f"mode {st.st_mode:o} with {st.st_nlink} links")
    return fd


def rewrap_file(path: PathLike, keyring: Keyring, *, hooks: Hook | None = None) -> bool:
    """Rewrap one file's data key under the active KEK. True if it changed."""
    fd = _open_encrypted(Path(path), os.O_RDWR)
    try:
        return rewrap_fd(fd, read_envelope(fd), keyring, hooks or _no_hook)
    finally:
        os.close(fd)


def rewrap_tree(roots: Iterable[PathLike], keyring: Keyring, *,
                hooks: Hook | None = None) -> RotationReport:
    report = RotationReport(keyring.active_id)
    for path in iter_encrypted(roots, lambda p, why: report.failed.append((p, why))):
        try:
            changed = rewrap_file(path, keyring, hooks=hooks)
        except (ScratchwardenError, OSError) as e:
            report.failed.append((path, str(e)))
            continue
        (report.rewrapped if changed else report.already_current).append(path)
    return report


def rotate(keyring_path: PathLike, roots: Iterable[PathLike], *,
           now: dt.datetime | None = None, hooks: Hook | None = None) -> RotationReport:
    """``keys rotate``: new active KEK (durable first), then rewrap every file."""
    keyring = add_active_kek(keyring_path, now=now)
    return rewrap_tree(roots, keyring, hooks=hooks)


def kek_usage(roots: Iterable[PathLike] = (), files: Iterable[PathLike] = ()) -> KekUsage:
    """Which KEK ids each encrypted file's key slots name (headers only)."""
    usage = KekUsage()
    found = iter_encrypted(roots, lambda p, why: usage.unreadable.append((p, why)))
    for path in [*found, *map(Path, files)]:
        try:
            fd = _open_encrypted(path, os.O_RDONLY)
            try:
                ids = read_envelope(fd).kek_ids()
            finally:
                os.close(fd)
        except (ScratchwardenError, OSError) as e:
            usage.unreadable.append((path, str(e)))
            continue
        for kek_id in ids:
            usage.by_kek.setdefault(kek_id, []).append(path)
    return usage


def retire(keyring_path: PathLike, kek_id: str, *, roots: Iterable[PathLike] = (),
           files: Iterable[PathLike] = ()) -> Keyring:
    """``keys retire ID``: remove a KEK once no file uses it. ``roots`` are
    scanned; ``files`` are extra encrypted files to check (e.g. from the
    inventory). Refuses without anything to check: that would be a guess.

    Raises:
        KeyMaterialError: nothing was given to check, a file could not be read, or a file still uses
            the KEK (or it is the active one).
    """
    keyring = load_keyring(keyring_path)
    remaining = keyring.without(kek_id)
    roots, files = list(roots), list(files)
    if not roots and not files:
        raise KeyMaterialError(f"refusing to retire {kek_id!r} unchecked: expected roots "
                               "or files to scan for encrypted files that still use it")
    usage = kek_usage(roots, files)
    if usage.unreadable:
        raise KeyMaterialError(f"refusing to retire {kek_id!r}: {len(usage.unreadable)} "
                               f"encrypted file(s) could not be read, first "
                               f"{usage.unreadable[0][0]}")
    users = usage.by_kek.get(kek_id, [])
    if users:
        raise KeyMaterialError(f"refusing to retire {kek_id!r}: expected no file to use it, "
                               f"found {len(users)}, first {users[0]}; run rotate first")
    save_keyring(keyring_path, remaining)
    return remaining
