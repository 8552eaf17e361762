"""A bounded, coalescing work queue of paths to scan.

Repeated events for one path collapse into one entry (keeping the earliest
event time, for latency, and the latest due time, for the quiet period). The
queue never grows past ``capacity``: a new path that does not fit is refused
and the caller switches to overflow mode (a reconcile walk catches it), so a
burst costs bounded memory and loses nothing."""

from __future__ import annotations

import heapq
import os
import threading
import time
from dataclasses import dataclass


@dataclass(slots=True)
class Pending:
    path: str
    due: float          # monotonic time when it may be scanned
    first_event: float  # monotonic time of the earliest coalesced event
    root: str | None = None


class WorkQueue:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: dict[str, Pending] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = 0
        self._front = 0  # put_back entries sort before equal due times
        self._cond = threading.Condition()
        self._closed = False

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def put(self, path: str, due: float, event_time: float, root: str | None = None) -> bool:
        """Add or coalesce. Returns False (and drops nothing already queued)
        when the queue is full and ``path`` is new."""
        with self._cond:
            item = self._items.get(path)
            if item is None:
                if len(self._items) >= self.capacity:
                    return False
                item = Pending(path, due, event_time, root)
                self._items[path] = item
            else:
                item.due = due
                item.first_event = min(item.first_event, event_time)
                item.root = root or item.root
            self._seq += 1
            heapq.heappush(self._heap, (due, self._seq, path))
            if len(self._heap) > 4 * self.capacity + 64:
                self._compact()
            self._cond.notify()
            return True

    def put_back(self, item: Pending) -> bool:
        """Return an item just taken so that it is the next one taken (ahead
        of other items due at the same time). False when the queue is full or
        the path was queued again meanwhile (then nothing changes)."""
        with self._cond:
            if item.path in self._items or len(self._items) >= self.capacity:
                return False
            self._items[item.path] = item
            self._front -= 1
            heapq.heappush(self._heap, (item.due, self._front, item.path))
            self._cond.notify()
            return True

    def discard(self, path: str) -> None:
        with self._cond:
            self._items.pop(path, None)

    def take_due(self, now: float, limit: int, timeout: float) -> list[Pending]:
        """Up to ``limit`` items whose due time has come; waits up to
        ``timeout`` seconds for one to become due."""
        with self._cond:
            out = self._pop_due(now, limit)
            if out or self._closed or timeout <= 0:
                return out
            wait = timeout
            if self._heap:
                wait = max(0.0, min(timeout, self._heap[0][0] - now))
            t0 = time.monotonic()
            self._cond.wait(wait)
            return self._pop_due(now + (time.monotonic() - t0), limit)

    def _pop_due(self, now: float, limit: int) -> list[Pending]:
        out: list[Pending] = []
        while self._heap and len(out) < limit and self._heap[0][0] <= now:
            due, _, path = heapq.heappop(self._heap)
            item = self._items.get(path)
            if item is None or item.due != due:
                continue  # stale heap entry (coalesced or discarded)
            del self._items[path]
            out.append(item)
        if not self._items:
            self._heap.clear()
        return out

    def _compact(self) -> None:
        """Drop stale heap entries left by coalescing (keeps memory bounded)."""
        self._heap = [(it.due, i, p) for i, (p, it) in enumerate(self._items.items())]
        heapq.heapify(self._heap)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class KnownFiles:
    """The (inode, size, mtime) of each file as it was when last scanned, so a
    repeated event or a walk skips a file that has not changed since. A file
    modified less than ``RACY_NS`` ago is always rescanned: its mtime may not
    move when it is written again within the file system's time resolution."""

    RACY_NS = 2_000_000_000

    def __init__(self) -> None:
        self._stat: dict[str, tuple[int, int, int]] = {}

    def remember(self, path: str, inode: int, size: int, mtime_ns: int) -> None:
        self._stat[path] = (inode, size, mtime_ns)

    def forget(self, path: str) -> None:
        self._stat.pop(path, None)

    def unchanged(self, path: str, st: os.stat_result) -> bool:
        known = self._stat.get(path)
        return known is not None and known == (st.st_ino, st.st_size, st.st_mtime_ns) \
            and time.time_ns() - st.st_mtime_ns > self.RACY_NS
