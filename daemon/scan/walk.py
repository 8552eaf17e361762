"""Walk a tree without following symlinks. Yields every non-directory entry
(regular files, symlinks, FIFOs, sockets, devices) with its lstat result, so
the caller records what it did not read. Unreadable directories are reported,
not fatal."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    stat: os.stat_result


def walk(root: str, on_error: Callable[[str, OSError], None] | None = None,
         same_device: bool = True) -> Iterator[Entry]:
    """Depth-first, iterative (no recursion limit), never follows symlinks and by
    default never crosses into another filesystem."""
    try:
        top = os.lstat(root)
    except OSError as e:
        if on_error:
            on_error(root, e)
        return
    if not _is_dir(top):
        yield Entry(root, top)
        return
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except OSError as e:
            if on_error:
                on_error(current, e)
            continue
        for de in sorted(entries, key=lambda d: d.name, reverse=True):
            try:
                st = de.stat(follow_symlinks=False)
            except OSError as e:
                if on_error:
                    on_error(de.path, e)
                continue
            if _is_dir(st):
                if not same_device or st.st_dev == top.st_dev:
                    stack.append(de.path)
            else:
                yield Entry(de.path, st)


def _is_dir(st: os.stat_result) -> bool:
    import stat as _s
    return _s.S_ISDIR(st.st_mode)
