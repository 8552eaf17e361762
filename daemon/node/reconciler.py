"""Reconciler: makes the inventory match the disk when events may have been lost.

Events are a fast path, not the truth: inotify overflows, a watch error, a
full queue, a crashed worker or a down database each lose information. Each of
those asks for a reconcile (``ReconcileRequests.events_missed``); a reconcile
also runs at start, after a reload and periodically (inside the heavy windows,
if any). It walks every root, queues what is new, changed or was unscannable,
and reports files the inventory knows that are gone. Unchanged files
(same inode, size and mtime as their live row) cost one ``lstat``.

One walk at a time: a request during a walk runs another walk after it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from daemon.host.roots import RootSet
from daemon.node.contracts import (
    Deleted,
    InventoryReader,
    KnownFileRow,
    Message,
    ScanMetrics,
    Watched,
)
from daemon.node.intake import is_ciphertext, is_transient
from daemon.node.status import Counters
from daemon.node.work_queue import KnownFiles, WorkQueue
from daemon.scan.walk import walk
from scratchwarden.errors import ScratchwardenError

log = logging.getLogger("scratchwarden.daemon")


class ReconcileRequests:
    """Asks for a reconcile; the supervisor's loop takes the request and runs it."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self._flag = threading.Event()
        self._trigger = "request"

    def request(self, trigger: str) -> None:
        self._trigger = trigger
        self._flag.set()

    def events_missed(self, reason: str) -> None:
        """Events may have been lost (``reason``: overflow, queue-full, ...)."""
        self.counters.overflows += 1
        log.warning("events may have been missed; reconciling", extra={"trigger": reason})
        self.request(reason)

    def take(self) -> str | None:
        """The pending request's trigger, clearing it; None when none is pending."""
        if not self._flag.is_set():
            return None
        self._flag.clear()
        return self._trigger

    def pending(self) -> bool:
        return self._flag.is_set()


class Reconciler:
    def __init__(self, *, node: str, roots: RootSet, queue: WorkQueue, known: KnownFiles,
                 inventory: InventoryReader, post: Callable[[Message], None],
                 requests: ReconcileRequests, counters: Counters, stop: threading.Event,
                 watcher: Watched | None = None, metrics: ScanMetrics | None = None) -> None:
        self.node = node
        self.roots = roots
        self.queue = queue
        self.known = known
        self.inventory = inventory
        self.post = post
        self.requests = requests
        self.counters = counters
        self.stop = stop
        self.watcher = watcher
        self.metrics = metrics
        self._running = threading.Lock()

    def spawn(self, trigger: str) -> None:
        """Reconcile in a thread of its own (the supervisor's loop must not wait)."""
        threading.Thread(target=self.reconcile, args=(trigger,), daemon=True,
                         name="sw-reconcile").start()

    def reconcile(self, trigger: str) -> None:
        """Walk every root; queue what is new or changed; post what vanished.
        Never raises: a failed walk is logged and the next request retries."""
        if not self._running.acquire(blocking=False):
            self.requests.request(trigger)  # one is running: run again after it
            return
        try:
            self._walk(trigger)
        except ScratchwardenError as e:
            log.warning("reconcile failed", extra={"error": str(e)})
        finally:
            self._running.release()

    def _walk(self, trigger: str) -> None:
        t0 = time.monotonic()
        known = self.known_rows()
        retry = set(self._unscannable())
        seen: set[str] = set()
        queued = 0
        for base in self.roots.bases():
            if self.watcher is not None and os.path.isdir(base):
                self.watcher.ensure_watched(base)
            for entry in walk(base):
                if self.stop.is_set():
                    return
                if is_transient(entry.path):
                    continue
                m = self.roots.match(entry.path)
                if m is None:
                    continue
                seen.add(entry.path)
                if is_ciphertext(entry.path):
                    continue  # the enforcer's own output: its row follows it
                st = entry.stat
                k = known.get(entry.path)
                if k is not None and entry.path not in retry and \
                        (k.inode, k.size, k.mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns):
                    self.known.remember(entry.path, st.st_ino, st.st_size, st.st_mtime_ns)
                    continue
                now = time.monotonic()
                while not self.queue.put(entry.path, now, now, m.key):
                    if self.stop.wait(0.2):  # backpressure, not growth
                        return
                queued += 1
        vanished = [p for p in known if p not in seen and self.roots.match(p)
                    and not os.path.lexists(p)]
        for p in vanished:
            self.post(Deleted(p))
        self._done(trigger, queued=queued, vanished=len(vanished), files=len(seen), t0=t0)

    def _done(self, trigger: str, *, queued: int, vanished: int, files: int,
              t0: float) -> None:
        self.counters.reconciles += 1
        self.counters.last_reconcile = datetime.now(UTC).isoformat()
        if self.metrics is not None:
            self.metrics.reconcile_done(trigger)
        log.info("reconcile done", extra={"trigger": trigger, "queued": queued,
                                          "vanished": vanished, "files": files,
                                          "seconds": round(time.monotonic() - t0, 3)})

    def known_rows(self) -> dict[str, KnownFileRow]:
        """Every live row of this node under the roots in force."""
        known: dict[str, KnownFileRow] = {}
        for r in self.roots:
            known.update(self.inventory.known_files(self.node, r.name))
        return known

    def _unscannable(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.roots:
            out.update(self.inventory.known_unscannable(self.node, r.name))
        return out
