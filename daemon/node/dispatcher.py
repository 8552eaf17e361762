"""Dispatcher: hands due files to the scan workers and their results to the recorder.

One task per free slot, and two slots per worker: one task running, one
waiting in the pipe so a worker never idles between tasks, while everything
else stays in the ``WorkQueue`` where repeated events coalesce. A task holds
every file that is due, up to ``BATCH_FILES`` files or ``BATCH_BYTES`` bytes
(``daemon.scan.workers``), so under load a worker scans many small files at
once; when the workers keep up, a task holds the one file that just became due.

Before a file is sent it is ``lstat``-ed: a gone file is dropped, an unchanged
one (``KnownFiles``) is skipped, a big one outside the heavy windows is put
back for later. A CPU budget (``limits.cpu_budget``) pauses dispatch when the
workers have spent that many cores' worth of scan time in the last window.

A task that fails makes each of its files an unscannable observation with the
reason (``worker-crashed``, ``worker-error:...``), never silence; a broken
pool is replaced and a reconcile retries what it held.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from datetime import time as dtime

from daemon.host.config import NodeConfig, Window
from daemon.node.contracts import Message, Observed, ScanMetrics
from daemon.node.status import Counters
from daemon.node.work_queue import KnownFiles, Pending, WorkQueue
from daemon.scan.pipeline import non_regular_reason
from daemon.scan.workers import BATCH_BYTES, BATCH_FILES, submit_scan_batch
from scratchwarden.observations import FileObservation, FileStatus

log = logging.getLogger("scratchwarden.daemon")

TICK = 1.0
BUDGET_WINDOW = 10.0
"""Seconds over which the CPU budget is counted."""


def in_heavy_window(windows: Sequence[Window], now: dtime) -> bool:
    """Whether heavy work (big files, periodic reconciles) may run now: always
    when no window is configured."""
    return not windows or any(w.contains(now) for w in windows)


class Dispatcher:
    def __init__(self, *, settings: Callable[[], NodeConfig], queue: WorkQueue,
                 known: KnownFiles, post: Callable[[Message], None],
                 events_missed: Callable[[str], None], reconcile: Callable[[str], None],
                 counters: Counters,
                 start_workers: Callable[[], Executor], workers: int,
                 metrics: ScanMetrics | None = None) -> None:
        self.settings = settings
        self.queue = queue
        self.known = known
        self.post = post
        self.events_missed = events_missed
        self.reconcile = reconcile
        self.counters = counters
        self.start_workers = start_workers
        self.metrics = metrics
        self.executor: Executor | None = None
        self._inflight: dict[Future[list[FileObservation]], list[Pending]] = {}
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(2 * workers)

    # ------------------------------------------------------------------ loop
    def run(self, stop: threading.Event) -> None:
        """The dispatch thread: one task per free slot until ``stop``."""
        while not stop.is_set():
            if self.over_budget():
                stop.wait(0.2)
                continue
            if not self._slots.acquire(timeout=TICK):
                continue
            batch = self.next_batch()
            if batch:
                self.submit(batch)
            else:
                self._slots.release()

    def next_batch(self) -> list[Pending]:
        """Due files to scan in one task: waits up to a tick for the first,
        then takes only what is already due. A file that would overflow
        ``BATCH_BYTES`` goes back to lead the next batch."""
        batch: list[Pending] = []
        size = 0
        while len(batch) < BATCH_FILES and size < BATCH_BYTES:
            items = self.queue.take_due(time.monotonic(), 1, timeout=0 if batch else TICK)
            if not items:
                break
            item, st_size = items[0], self.admit(items[0])
            if st_size is None:
                continue
            if batch and size + st_size > BATCH_BYTES and self.queue.put_back(item):
                break
            batch.append(item)
            size += st_size
        return batch

    def admit(self, item: Pending) -> int | None:
        """The size of a file to scan now; None when it is gone, unchanged, or
        big and outside the heavy window (it is queued again for later)."""
        try:
            st = os.lstat(item.path)
        except FileNotFoundError:
            return None
        if non_regular_reason(st.st_mode) is None and self.known.unchanged(item.path, st):
            self.counters.unchanged_skipped += 1
            return None
        config = self.settings()
        if st.st_size >= config.heavy_bytes > 0 and \
                not in_heavy_window(config.heavy_windows, datetime.now().time()):
            self.queue.put(item.path, time.monotonic() + 60, item.first_event, item.root)
            return None
        return st.st_size

    def over_budget(self) -> bool:
        """Past the CPU budget, dispatch pauses (the queue absorbs the burst,
        overflow mode and reconciles catch the rest)."""
        cores = self.settings().limits.cpu_budget
        if cores is None:
            return False
        return self.counters.cpu_used(time.monotonic(), BUDGET_WINDOW) > cores * BUDGET_WINDOW

    # --------------------------------------------------------------- workers
    def submit(self, batch: list[Pending]) -> None:
        if self.executor is None:
            self.executor = self.start_workers()
        try:
            fut = submit_scan_batch(self.executor, [item.path for item in batch])
        except (BrokenProcessPool, RuntimeError):
            self.restart_workers()
            for item in batch:
                if not self.queue.put(item.path, time.monotonic() + 1, item.first_event,
                                      item.root):
                    self.events_missed("queue-full")  # a reconcile finds it
            self._slots.release()
            return
        with self._lock:
            self._inflight[fut] = batch
        fut.add_done_callback(self.scan_done)

    def scan_done(self, fut: Future[list[FileObservation]]) -> None:
        with self._lock:
            batch = self._inflight.pop(fut, None)
        self._slots.release()
        if batch is None:
            return
        for item, obs in zip(batch, self.observations(fut, batch), strict=True):
            self.post(Observed(item, obs))

    def observations(self, fut: Future[list[FileObservation]],
                     batch: list[Pending]) -> list[FileObservation]:
        """One observation per file of the batch; a failed task makes every
        file of it unscannable with the reason (a reconcile retries them)."""
        try:
            found = fut.result()
            if len(found) == len(batch):
                return found
            reason = "worker-error:short-batch"
        except BrokenProcessPool:
            self.counters.worker_restarts += 1
            if self.metrics is not None:
                self.metrics.worker_restarted()
            self.reconcile("worker-crashed")
            reason = "worker-crashed"
        except Exception as e:  # noqa: BLE001 - recorded with the reason
            reason = f"worker-error:{type(e).__name__}"
        return [FileObservation(item.path, FileStatus.UNSCANNABLE, reason=reason)
                for item in batch]

    def restart_workers(self) -> None:
        old = self.executor
        self.counters.worker_restarts += 1
        self.executor = self.start_workers()
        if old is not None:
            old.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- status
    def inflight(self) -> int:
        """Files handed to workers and not yet answered."""
        with self._lock:
            return sum(len(batch) for batch in self._inflight.values())

    def idle(self) -> bool:
        with self._lock:
            return not self._inflight

    def wait_idle(self, deadline: float) -> None:
        """Wait (at most until the monotonic ``deadline``) for every task to answer."""
        while time.monotonic() < deadline and not self.idle():
            time.sleep(0.05)

    def shutdown(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
