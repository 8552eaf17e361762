"""Reaching a file inside a declared root without ever following a symlink.

Why not ``open(path)``: an agent owns its scratch directory and can swap any
directory component for a symlink between our check and our action. So every
action works on a :class:`Target`: the parent directory opened component by
component from ``/`` with ``O_NOFOLLOW | O_DIRECTORY`` (a symlink anywhere on
the way is refused, not resolved), plus the final name, used only with
``*at()`` calls that do not follow it either. Roots must therefore be declared
by their real path (no symlink in the root's own path): fail closed.

The chain of directory fds from the root directory down to the parent is kept
open, because deletion takes systemd-tmpfiles' BSD locks on each of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field

from daemon.platform.files import is_within
from scratchwarden.errors import UnsafePath

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class Target:
    """An open parent directory (``dir_fd``) and the file's ``name`` in it.
    ``chain`` holds the fds of the root directory and every directory below it
    down to ``dir_fd`` (the last element)."""

    root_dir: str
    path: str
    name: str
    chain: list[int] = field(default_factory=list)

    @property
    def dir_fd(self) -> int:
        return self.chain[-1]

    @property
    def parent(self) -> str:
        return posixpath.dirname(self.path)

    def lstat(self) -> os.stat_result | None:
        """The name's own stat (never its target), or None if it is gone."""
        try:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None


def check_inside(root_dir: str, path: str) -> None:
    """Raise ``UnsafePath`` unless ``path`` is a normalised absolute path
    strictly below ``root_dir`` (textually and after resolving the root).

    Raises:
        UnsafePath: ``not-normalised`` or ``outside-root``.
    """
    if not path.startswith("/") or posixpath.normpath(path) != path or "\x00" in path:
        raise UnsafePath("not-normalised", f"expected a normalised absolute path, found {path!r}")
    prefix = root_dir.rstrip("/") + "/"
    if not path.startswith(prefix) or not is_within(root_dir, path):
        raise UnsafePath("outside-root", f"{path}: expected a path below root {root_dir}")


def _open_below(fd: int, name: str, shown: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath("symlink-in-path", f"{shown}: expected a real directory, found a "
                                                "symbolic link or a non-directory") from e
        raise


def open_directory(path: str) -> int:
    """Open ``path`` from ``/`` one component at a time with O_NOFOLLOW; the
    caller closes the returned fd."""
    fd = os.open("/", _DIR_FLAGS)
    walked = ""
    try:
        for comp in [c for c in path.split("/") if c]:
            walked += "/" + comp
            nxt = _open_below(fd, comp, walked)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def open_target(root_dir: str, path: str) -> Iterator[Target]:
    """The parent of ``path`` opened safely below ``root_dir`` (see module doc).
    Raises ``UnsafePath`` for anything outside the root or through a symlink,
    ``FileNotFoundError`` when a directory on the way is gone."""
    check_inside(root_dir, path)
    rel = path[len(root_dir.rstrip("/")) + 1:].split("/")
    chain = [open_directory(root_dir.rstrip("/") or "/")]
    try:
        walked = root_dir.rstrip("/")
        for comp in rel[:-1]:
            walked += "/" + comp
            chain.append(_open_below(chain[-1], comp, walked))
        yield Target(root_dir, path, rel[-1], chain)
    finally:
        for fd in reversed(chain):
            os.close(fd)
