"""Intake: turns the watcher's events into work.

A changed file under a root goes into the coalescing ``WorkQueue``, due when
its writer closed it or after the quiet period (an editor that never closes
still gets scanned). A delete, a move or a vanished directory becomes a
message for the recorder, in event order. A new directory is walked (files
created before inotify watched it raise no event), one directory at a time by
one thread, so a burst of new directories costs a queue, not a thread each.

Whatever cannot keep up (a full work queue, a full new-directory queue, a
handler error) asks for a reconcile instead of dropping silently.

Paths the intake never scans: the enforcer's ciphertext (``x`` becomes
``x.swenc`` and its row follows it; scanning the random bytes would replace
the row's findings with "nothing found") and the temp files of encryption and
quarantine copies. A reconcile walk still counts a ``*.swenc`` file as
present, or it would end the row as vanished.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import time
from collections.abc import Callable
from queue import Empty, Full, Queue

from daemon.crypto import SUFFIX as ENCRYPTED_SUFFIX
from daemon.crypto.recovery import TMP_RE as CRYPTO_TEMP_RE
from daemon.host.roots import RootSet
from daemon.node.contracts import Claims, Deleted, DirDeleted, Message, Renamed
from daemon.node.watch import EventSink
from daemon.node.work_queue import KnownFiles, WorkQueue
from daemon.scan.walk import walk

log = logging.getLogger("scratchwarden.daemon")

NEW_DIRS_MAX = 10_000
TICK = 1.0


def is_ciphertext(path: str) -> bool:
    return path.endswith(ENCRYPTED_SUFFIX)


def is_transient(path: str) -> bool:
    name = posixpath.basename(path)
    return bool(CRYPTO_TEMP_RE.match(name)) or (name.startswith(".")
                                                 and name.endswith(".data.tmp"))


def not_scanned(path: str) -> bool:
    """True for files the scanner must skip (see the module doc)."""
    return is_ciphertext(path) or is_transient(path)


class Intake(EventSink):
    def __init__(self, *, roots: RootSet, queue: WorkQueue, known: KnownFiles,
                 post: Callable[[Message], None], events_missed: Callable[[str], None],
                 quiet_period: Callable[[], float], claims: Claims | None = None) -> None:
        self.roots = roots
        self.queue = queue
        self.known = known
        self.post = post
        self.events_missed = events_missed
        self.quiet_period = quiet_period
        self.claims = claims
        self.new_dirs: Queue[str] = Queue(maxsize=NEW_DIRS_MAX)

    # ------------------------------------------------------------ EventSink
    def file_changed(self, path: str, *, closed: bool, event_time: float) -> None:
        if not_scanned(path):
            return
        m = self.roots.match(path)
        if m is None or path == m.root_dir:
            return
        due = event_time if closed else event_time + self.quiet_period()
        if not self.queue.put(path, due, event_time, m.key):
            self.events_missed("queue-full")

    def file_deleted(self, path: str) -> None:
        if self._claimed(path):
            return  # the enforcer removed it and recorded why
        if self.roots.match(path):
            self._forget(path)
            self.post(Deleted(path))

    def file_moved(self, src: str, dest: str, event_time: float) -> None:
        if self._claimed(src):
            return
        if self.roots.match(src):
            self._forget(src)
            self.post(Renamed(src, dest))
        self.file_changed(dest, closed=True, event_time=event_time)

    def dir_appeared(self, path: str) -> None:
        if any(path.startswith(b) for b in self.roots.bases()):
            try:
                self.new_dirs.put_nowait(path)
            except Full:
                self.events_missed("new-dirs-full")

    def dir_deleted(self, path: str) -> None:
        self.post(DirDeleted(path))

    def handler_error(self, error: BaseException) -> None:
        log.error("watch handler error", extra={"error_type": type(error).__name__})
        self.events_missed("handler-error")

    # ------------------------------------------------------------ new dirs
    def walk_new_dirs(self, stop: threading.Event) -> None:
        """The new-directory thread: walk each in turn until ``stop``."""
        while not stop.is_set():
            try:
                path = self.new_dirs.get(timeout=TICK)
            except Empty:
                continue
            self.walk_new_dir(path, stop)

    def walk_new_dir(self, path: str, stop: threading.Event) -> None:
        now = time.monotonic()
        for entry in walk(path):
            if stop.is_set():
                return
            self.file_changed(entry.path, closed=True, event_time=now)

    def _claimed(self, path: str) -> bool:
        return self.claims is not None and self.claims.claims(path)

    def _forget(self, path: str) -> None:
        self.queue.discard(path)
        self.known.forget(path)
