"""The checks every destructive action passes before its journal intent is
written. A failed check is a :class:`Skip` with a stable reason code: nothing
was changed, and the next tick tries again (``check, skip, retry``)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from daemon.actions.inuse import Locked, lock_nb, locked_dirs, open_holders
from daemon.actions.safepath import Target

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
