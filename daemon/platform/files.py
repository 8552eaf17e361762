"""The one module of safe and durable file primitives.

Every file operation whose failure would lose or expose data goes through
here (quarantine, encryption, the keyring, the session log, the status file,
the installer):

- ``atomic_write`` / ``atomic_writer``: replace a file's content durably
  (temp file in the same directory, fsync, rename, fsync the directory; on
  any failure, the disk full included, the old content stays);
- ``temp_file_at``: an exclusive temp file in a directory fd, removed unless
  the caller renames it (the first step of every durable publish);
- ``rename_noreplace``: the one ``renameat2(RENAME_NOREPLACE)`` wrapper, never
  clobbering a name an agent may have created meanwhile;
- ``copy_durably``: a complete, synced copy under a new name, for moves that
  cross file systems;
- ``fsync_dir``: a rename or unlink is durable only once its directory is synced.

The rest keeps paths honest: ``open_nofollow`` and ``open_dir`` never follow a
final symlink, ``is_within`` and ``ensure_private_dir`` check where a path
really is. Why this matters: the agent owns the directories we act in and can
race us; a crash can come between any two steps (the crash tests kill the
process at each).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
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
    blocking on a FIFO. Falls back to opening without O_NOATIME when not owner.

    Raises:
        UnsafePath: the final component is a symlink.
        OSError: any other failure to open.
    """
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
    """Create ``path`` (and parents) if missing; refuse a symlink; tighten mode.

    Raises:
        UnsafePath: ``path`` is a symlink or not a directory.
    """
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True, mode=mode)
    st = os.lstat(p)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafePath("not-a-directory", str(p))
    if stat.S_IMODE(st.st_mode) & 0o077 and os.geteuid() == st.st_uid:
        os.chmod(p, mode)
    return p


# --- dir-fd relative primitives ---------------------------------------------

_RENAME_NOREPLACE = 1
_TMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def open_dir(path: str | os.PathLike[str]) -> int:
    """Open a directory for ``*_at`` style operations. The final component must
    not be a symlink (O_NOFOLLOW); callers check roots for the components above.

    Raises:
        UnsafePath: the final component is a symlink or not a directory.
    """
    try:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath("not-a-directory",
                             f"expected a real directory (no symlink) at {path}") from e
        raise


def rename_noreplace(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    """Rename ``src`` (in ``src_dir``) to ``dst`` (in ``dst_dir``) without ever
    clobbering an existing ``dst``: ``renameat2(RENAME_NOREPLACE)``; where the
    kernel or file system lacks it, ``link`` + ``unlink``, which refuses an
    existing target too.

    Raises:
        FileExistsError: ``dst`` exists (a symlink included).
        OSError: EXDEV across file systems (the caller copies instead), or any
            other failure of the rename.
    """
    import ctypes  # local: only this primitive needs it

    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is not None:
        rc = fn(src_dir, os.fsencode(src), dst_dir, os.fsencode(dst), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS):
            raise OSError(err, os.strerror(err), dst)
    os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
    os.unlink(src, dir_fd=src_dir)


@contextlib.contextmanager
def temp_file_at(dir_fd: int, name: str, mode: int = 0o600) -> Iterator[int]:
    """A new file ``name`` in ``dir_fd`` (O_EXCL, never through a symlink),
    open for writing. If the block raises, the file is removed; otherwise the
    caller has renamed it (or removes it). The fd is closed either way.

    Raises:
        FileExistsError: ``name`` exists (a leftover temp file, or an agent's).
    """
    fd = os.open(name, _TMP_FLAGS, mode, dir_fd=dir_fd)
    try:
        yield fd
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)
        raise
    finally:
        os.close(fd)


def copy_durably(src_fd: int, dst_dir: int, name: str, st: os.stat_result, *,
                 temp: str | None = None) -> str:
    """Copy ``src_fd`` into ``dst_dir`` as ``name`` (never clobbering): write a
    temp file (``temp``, default ``.<name>.tmp``), give it ``st``'s mode, times
    and (as root) owner, fsync, rename it into place, fsync the directory.
    Returns the copy's sha256. On failure the temp file is removed and
    ``name`` does not exist.

    Raises:
        FileExistsError: ``name`` or the temp file exists.
        OSError: reading, writing or syncing failed (ENOSPC included).
    """
    tmp = temp or f".{name}.tmp"
    digest = hashlib.sha256()
    with temp_file_at(dst_dir, tmp) as fd:
        offset = 0
        while chunk := os.pread(src_fd, _CHUNK, offset):
            os.write(fd, chunk)
            digest.update(chunk)
            offset += len(chunk)
        if os.geteuid() == 0:
            os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.fsync(fd)
        rename_noreplace(dst_dir, tmp, dst_dir, name)
    os.fsync(dst_dir)
    return digest.hexdigest()
