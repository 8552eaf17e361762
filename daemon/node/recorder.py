"""Recorder: the one writer of the node's inventory.

Every role posts its messages (``Observed``, ``Deleted``, ``Renamed``,
``DirDeleted``) here; one thread applies them in the order they were posted.
Commits are spaced ``RECORD_INTERVAL`` apart, at most ``RECORD_BATCH``
messages each: a lone observation is recorded at once, a stream of them goes
in one transaction per interval (a commit's fixed cost, SQLAlchemy's and
SQLite's, is paid per transaction, not per file).

Two parts, so the fleet can hang off the seam between them:

- ``Recorder`` gathers, paces, retries and accounts. It writes through an
  ``InventoryWriter`` (``daemon.node.contracts``) and knows nothing of SQL.
- ``LocalInventory`` is that writer for the node's local store: runs of
  observations go in one ``record_many`` transaction, a delete or rename is
  applied where it happened. Fleet replication wraps or replaces this one
  class (write the batch and its outbox rows in one local transaction); the
  recorder, its pacing and its retries stay as they are.

When the store is down the batch is retried with backoff (1, 2, 4, 8, 16 s);
after five failures the batch is given up and a reconcile is requested, which
finds every change again once the store is back. The daemon's security
decisions never wait on this thread.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Protocol

from daemon.host.roots import RootSet
from daemon.node.contracts import (
    Deleted,
    DirDeleted,
    InventoryWriter,
    KnownFileRow,
    Message,
    Observed,
    Renamed,
    ScanMetrics,
)
from daemon.node.status import Counters
from daemon.node.work_queue import KnownFiles
from inventory.store import Recording
from scratchwarden.errors import InventoryUnavailable
from scratchwarden.observations import FileObservation, FileStatus

log = logging.getLogger("scratchwarden.daemon")

TICK = 1.0
ATTEMPTS = 5


class RecordingStore(Protocol):
    """The calls ``LocalInventory`` makes on ``inventory.store.Store``."""

    def record_many(self, node: str, recordings: Sequence[Recording], *,
                    now: datetime) -> list[int]: ...
    def mark_deleted(self, node: str, path: str, *, now: datetime,
                     reason: str) -> int | None: ...
    def mark_renamed(self, node: str, old: str, new: str, *, now: datetime,
                     new_root: str | None = None) -> int | None: ...
    def known_files(self, node: str, root: str | None) -> Mapping[str, KnownFileRow]: ...


class LocalInventory:
    """Applies message batches to the node's local store (an ``InventoryWriter``)."""

    def __init__(self, store: RecordingStore, node: str, roots: RootSet) -> None:
        self.store = store
        self.node = node
        self.roots = roots

    def write(self, batch: Sequence[Message], now: datetime) -> list[str]:
        """Apply ``batch`` in order: each run of observations in one
        transaction, each delete or rename where it happened. Returns the
        paths marked deleted.

        Raises:
            InventoryUnavailable: the store is down; nothing after the failing
                transaction was applied, and applying the batch again is safe.
            InventoryError: the store refused a write.
        """
        deleted: list[str] = []
        run: list[Observed] = []
        for message in batch:
            if isinstance(message, Observed):
                run.append(message)
                continue
            self._observed(run, now)
            run = []
            deleted += self._other(message, now)
        self._observed(run, now)
        return deleted

    def _observed(self, run: list[Observed], now: datetime) -> None:
        if not run:
            return
        recs = []
        for message in run:
            obs = message.observation
            m = self.roots.match(obs.path)
            labels = m.labels if m else {}
            recs.append(Recording(obs, root=message.item.root, labels=labels,
                                  owner=m.root.owner if m else None,
                                  session=labels.get("session")))
        self.store.record_many(self.node, recs, now=now)

    def _other(self, message: Deleted | Renamed | DirDeleted, now: datetime) -> list[str]:
        match message:
            case Deleted(path=path):
                self.store.mark_deleted(self.node, path, now=now, reason="removed")
                return [path]
            case Renamed(src=src, dest=dest):
                self.store.mark_renamed(self.node, src, dest, now=now)
                return []
            case DirDeleted(path=path):
                return self._dir_deleted(path, now)

    def _dir_deleted(self, directory: str, now: datetime) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        gone = []
        for r in self.roots:
            for path in self.store.known_files(self.node, r.name):
                if path.startswith(prefix) and not os.path.lexists(path):
                    self.store.mark_deleted(self.node, path, now=now, reason="removed")
                    gone.append(path)
        return gone


class Recorder:
    RECORD_INTERVAL = 0.05  # seconds between the starts of two commits, at least
    RECORD_BATCH = 500      # messages per transaction at most
    POST_TIMEOUT = 5.0      # seconds a poster waits for room before a reconcile takes over

    def __init__(self, *, writer: InventoryWriter, known: KnownFiles, counters: Counters,
                 events_missed: Callable[[str], None], stop: threading.Event,
                 metrics: ScanMetrics | None = None, capacity: int = 10_000) -> None:
        self.writer = writer
        self.known = known
        self.counters = counters
        self.events_missed = events_missed
        self.stop = stop
        self.metrics = metrics
        self.messages: queue.Queue[Message] = queue.Queue(maxsize=capacity)
        self.last_commit = 0.0

    def post(self, message: Message) -> None:
        """Queue a message; a full queue loses it and asks for a reconcile."""
        try:
            self.messages.put(message, timeout=self.POST_TIMEOUT)
        except queue.Full:
            self.events_missed("results-full")

    def run(self, busy: Callable[[], bool]) -> None:
        """The recorder thread: record until stopping and drained (nothing
        queued here and ``busy()`` false: no scan still to answer)."""
        while True:
            stopping = self.stop.is_set()
            batch = self.gather()
            if batch:
                self.record(batch)
            elif stopping and self.messages.empty() and not busy():
                return

    def gather(self) -> list[Message]:
        """The next batch: waits up to half a tick for a first message, then
        takes what arrives until ``RECORD_INTERVAL`` after the last commit
        started, at most ``RECORD_BATCH``."""
        try:
            batch = [self.messages.get(timeout=TICK / 2)]
        except queue.Empty:
            return []
        until = self.last_commit + self.RECORD_INTERVAL
        while len(batch) < self.RECORD_BATCH:
            left = until - time.monotonic()
            try:
                batch.append(self.messages.get(timeout=left) if left > 0
                             else self.messages.get_nowait())
            except queue.Empty:
                break
        self.last_commit = time.monotonic()
        return batch

    def record(self, batch: list[Message]) -> None:
        """Write a batch, retrying while the store is unavailable; then account."""
        deleted = self._write(batch, datetime.now(UTC))
        for path in deleted:
            self.known.forget(path)
        self.counters.deleted += len(deleted)
        done = time.monotonic()
        for message in batch:
            if isinstance(message, Observed):
                self._account(message, done)

    def _write(self, batch: list[Message], now: datetime) -> list[str]:
        for attempt in range(ATTEMPTS):
            try:
                return self.writer.write(batch, now)
            except InventoryUnavailable:
                log.warning("inventory unavailable; retrying", extra={"attempt": attempt + 1})
                if self.metrics is not None:
                    self.metrics.inventory_error()
                if self.stop.wait(min(30, 2 ** attempt)):
                    return []
        self.events_missed("inventory-unavailable")
        return []

    def _account(self, message: Observed, done: float) -> None:
        obs: FileObservation = message.observation
        c = self.counters
        spent = obs.cpu_seconds if obs.cpu_seconds is not None else obs.scan_seconds
        if spent:
            c.cpu.append((done, spent))
        if obs.status is FileStatus.SCANNED:
            c.files_scanned += 1
            c.bytes_scanned += obs.size or 0
            c.recent.append(done)
            if obs.inode is not None and obs.size is not None and obs.mtime_ns is not None:
                self.known.remember(obs.path, obs.inode, obs.size, obs.mtime_ns)
        elif obs.status is FileStatus.UNSCANNABLE:
            c.scan_errors += 1
        if self.metrics is not None:
            self.metrics.observe_scan(obs, done - message.item.first_event)
