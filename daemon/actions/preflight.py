"""The checks every destructive action passes before its journal intent is
written. A failed check is a :class:`Skip` with a stable reason code: nothing
was changed, and the next tick tries again (``check, skip, retry``).

In use
------

A file in use is skipped and retried on a later tick, never acted on.

The reference is systemd-tmpfiles' age cleanup (``src/tmpfiles/tmpfiles.c``,
``dir_cleanup``): it takes ``flock(LOCK_EX|LOCK_NB)`` on every directory it
descends into and skips the whole subtree when that fails (a program protects
its directory by holding a BSD lock on it); it opens each file with
``O_NOFOLLOW|O_NOATIME|O_NONBLOCK``, takes ``flock(LOCK_EX|LOCK_NB)`` and
skips the file when the lock is held elsewhere, keeping its own lock until the
unlink is done; it skips sticky-bit files, live sockets and devices.

tmpfiles does not look for open file descriptors; our promise is stronger
("never while any process holds it open"), so we also scan every
``/proc/<pid>/fd/*`` (stat follows the magic link to the open file: same
``st_dev``/``st_ino`` = held open) and ``/proc/<pid>/maps`` (a mapping keeps a
file in use after its fd is closed). Fail closed: a process whose fd table
cannot be read (not root, hidepid) makes the answer "unknown", which callers
treat as "in use".
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from daemon.actions.safepath import Target

PROC = "/proc"


@dataclass
class Holders:
    """Processes holding the file open or mapped, and processes we could not
    inspect (their fd table was unreadable)."""

    pids: list[int] = field(default_factory=list)
    unreadable: list[int] = field(default_factory=list)

    @property
    def clear(self) -> bool:
        return not self.pids and not self.unreadable


def open_holders(dev: int, ino: int, *, ignore_fd: int | None = None,
                 proc: str = PROC) -> Holders:
    """Every process that has ``(dev, ino)`` open or mapped. ``ignore_fd`` is
    one of our own fds (the one holding our lock)."""
    me = os.getpid()
    found = Holders()
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        pid = int(entry)
        skip = ignore_fd if pid == me else None
        state = _fd_table_holds(f"{proc}/{entry}", dev, ino, skip)
        if state is None:
            found.unreadable.append(pid)
        elif state or _maps_hold(f"{proc}/{entry}/maps", dev, ino):
            found.pids.append(pid)
    return found


def _fd_table_holds(pid_dir: str, dev: int, ino: int, skip: int | None) -> bool | None:
    try:
        fds = os.listdir(f"{pid_dir}/fd")
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return False  # the process exited meanwhile
    except PermissionError:
        return None
    for fd in fds:
        if skip is not None and fd == str(skip):
            continue
        try:
            st = os.stat(f"{pid_dir}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile, or an object without a stat-able target
        if st.st_ino == ino and st.st_dev == dev:
            return True
    return False


def _maps_hold(maps: str, dev: int, ino: int) -> bool:
    want = f"{os.major(dev):02x}:{os.minor(dev):02x}"
    try:
        with open(maps, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) >= 5 and parts[4] == str(ino) and parts[3] == want:
                    return True
    except OSError:
        return False
    return False


class Locked(Exception):
    """A directory or the file is BSD-locked by someone else (internal signal)."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def lock_nb(fd: int, what: str) -> None:
    """``flock(LOCK_EX|LOCK_NB)``; raise :class:`Locked` if someone else holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        raise Locked(what) from e


@contextlib.contextmanager
def locked_dirs(chain: Sequence[int]) -> Iterator[None]:
    """tmpfiles' directory rule: lock every directory from the root down to the
    parent, or raise :class:`Locked`. Locks go away when the fds close."""
    for fd in chain:
        lock_nb(fd, "directory-locked")
    try:
        yield
    finally:
        for fd in chain:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)


_OPEN_FLAGS = (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
               | getattr(os, "O_NOATIME", 0) | getattr(os, "O_NOCTTY", 0))


class Skip(Exception):
    """The action is not safe now; ``reason`` is a stable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Expected:
    """What the inventory last recorded for the file; a file that differs was
    changed since its last scan and must be rescanned before we act on it."""

    inode: int | None = None
    mtime_ns: int | None = None


def identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def check_name(target: Target, expected: Expected, *, single_link: bool) -> os.stat_result:
    """The name's stat if it is a regular file we may act on, else ``Skip``."""
    st = target.lstat()
    if st is None:
        raise Skip("gone", target.path)
    if stat.S_ISLNK(st.st_mode):
        raise Skip("symlink", f"{target.path}: never acted through")
    if not stat.S_ISREG(st.st_mode):
        raise Skip("not-regular-file", target.path)
    if expected.inode is not None and st.st_ino != expected.inode:
        raise Skip("changed-since-scan", f"{target.path}: inode differs from the inventory")
    if expected.mtime_ns is not None and st.st_mtime_ns != expected.mtime_ns:
        raise Skip("changed-since-scan", f"{target.path}: modified after its last scan")
    if single_link and st.st_nlink != 1:
        raise Skip("hardlinked", f"{target.path}: {st.st_nlink} links; never modified or "
                                 "moved while another name may lie outside the root")
    if st.st_mode & stat.S_ISVTX:
        raise Skip("sticky", f"{target.path}: sticky bit set (systemd-tmpfiles semantics)")
    return st


@contextlib.contextmanager
def exclusive(target: Target, expected: Expected, *,
              single_link: bool) -> Iterator[tuple[int, os.stat_result]]:
    """Hold systemd-tmpfiles' locks (every directory from the root down, then
    the file) and prove no process has the file open or mapped. Yields our
    read-only fd of the file and its stat; the locks last until the block ends,
    i.e. across the action itself."""
    st = check_name(target, expected, single_link=single_link)
    try:
        with locked_dirs(target.chain):
            fd = _open_same(target, st)
            try:
                lock_nb(fd, "file-locked")
                holders = open_holders(st.st_dev, st.st_ino, ignore_fd=fd)
                if holders.pids:
                    raise Skip("in-use", f"{target.path}: held open by {len(holders.pids)} "
                                         "process(es)")
                if holders.unreadable:
                    raise Skip("in-use-unknown", f"{len(holders.unreadable)} process(es) "
                                                 "could not be inspected")
                yield fd, st
            finally:
                os.close(fd)
    except Locked as e:
        raise Skip(e.what, target.path) from e


def _open_same(target: Target, st: os.stat_result) -> int:
    try:
        fd = os.open(target.name, _OPEN_FLAGS, dir_fd=target.dir_fd)
    except OSError as e:
        raise Skip("changed-since-scan", f"{target.path}: cannot open: {e.strerror}") from e
    if identity(os.fstat(fd)) != identity(st):
        os.close(fd)
        raise Skip("changed-since-scan", f"{target.path}: replaced while being checked")
    return fd


def still_same(target: Target, st: os.stat_result) -> bool:
    """The name still refers to the file we checked (not swapped meanwhile)."""
    now = target.lstat()
    return now is not None and identity(now) == identity(st)
