"""The one module of safe file primitives. Every file operation that matters
goes through here: no symlink following, dir-fd relative operations, and one
atomic durable write helper (temp file in the same directory, fsync, replace,
fsync the directory, clean up on failure)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from scratchwarden.errors import UnsafePath

O_NOFOLLOW_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | getattr(os, "O_NOATIME", 0)


def open_nofollow(path: str | os.PathLike[str], flags: int = O_NOFOLLOW_READ) -> int:
    """Open ``path`` for reading without following a final symlink and without
    blocking on a FIFO. Falls back to opening without O_NOATIME when not owner."""
    flags |= os.O_NONBLOCK
    try:
        return os.open(path, flags)
    except PermissionError:
        if flags & getattr(os, "O_NOATIME", 0):
            return os.open(path, flags & ~os.O_NOATIME)
        raise
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UnsafePath("symlink", "refusing to follow a symbolic link") from e
        raise


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike[str], data: bytes, mode: int = 0o600, *,
                 clobber: bool = True) -> None:
    """Durably replace ``path`` with ``data``: temp file in the same directory,
    write, fsync, ``os.replace``, fsync the directory. On any failure (disk full
    included) the temp file is removed and the old content stays intact.
    ``clobber=False`` publishes with ``os.link`` instead: FileExistsError if
    ``path`` exists (a symlink included), and a concurrent reader sees either
    no file or all of it, never a partly written one."""
    target = Path(path)
    with atomic_writer(target, mode, clobber=clobber) as f:
        f.write(data)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: int = 0o600, *,
                  clobber: bool = True) -> Iterator[BinaryIO]:
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".swtmp", dir=target.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb", closefd=True) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if clobber:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    fsync_dir(target.parent)


def is_within(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """True when ``path`` (resolved without following its final component) lies
    inside ``root`` (resolved). Used before any action."""
    r = os.path.realpath(root)
    p = os.path.join(os.path.realpath(os.path.dirname(os.path.abspath(path))),
                     os.path.basename(path))
    return os.path.commonpath([r, p]) == r


def ensure_private_dir(path: str | os.PathLike[str], mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) if missing; refuse a symlink; tighten mode."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=mode)
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafePath("not-a-directory", str(p))
    if stat.S_IMODE(st.st_mode) & 0o077 and os.geteuid() == st.st_uid:
        os.chmod(p, mode)
    return p


# --- dir-fd relative helpers (added for daemon.crypto) ----------------------

_RENAME_NOREPLACE = 1


def open_dir(path: str | os.PathLike[str]) -> int:
    """Open a directory for ``*_at`` style operations. The final component must
    not be a symlink (O_NOFOLLOW); callers check roots for the components above."""
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath("not-a-directory",
                             f"expected a real directory (no symlink) at {path}") from e
        raise


def rename_noreplace(src: str, dst: str, dir_fd: int) -> None:
    """Rename ``src`` to ``dst`` inside ``dir_fd`` without ever clobbering an
    existing ``dst`` (``renameat2(RENAME_NOREPLACE)``; where the file system
    lacks it, ``link`` + ``unlink``, which also refuses an existing target).
    Raises ``FileExistsError`` when ``dst`` exists."""
    import ctypes  # local: only this helper needs it

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        rc = fn(dir_fd, os.fsencode(src), dir_fd, os.fsencode(dst), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), dst)
    os.link(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    os.unlink(src, dir_fd=dir_fd)
