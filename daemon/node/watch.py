"""Watching root trees with watchdog (inotify), guarded against its known
failure modes (FIELD-NOTES):

- a handler that raises kills watchdog's dispatcher thread: ours never raises;
- an inotify queue overflow reaches no handler, only a warning on watchdog's
  loggers: ``OverflowDetector`` hooks them and asks for a reconcile;
- directories created during a burst miss events even without an overflow:
  every new directory is walked (``on_new_dir``).

Root trees are watched for ``ROOT_EVENTS`` only. watchdog's default mask adds
IN_OPEN and IN_CLOSE_NOWRITE, which the daemon never acts on and which its own
scans produce (two opens per scanned file: hash, then extract): ~10 kernel
events per agent file instead of 3, each decoded and dispatched in Python, and
more of the inotify queue (16,384 events) spent before it overflows.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

log = logging.getLogger(__name__)

IGNORED_SUFFIXES = (".swtmp",)

#: the event kinds ``Handler`` routes; passed to ``observer.schedule`` as its
#: ``event_filter``, which also narrows the inotify mask in the kernel
ROOT_EVENTS: list[type[FileSystemEvent]] = [
    FileClosedEvent, FileCreatedEvent, FileModifiedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirMovedEvent, DirDeletedEvent,
]


def _s(p: bytes | str) -> str:
    return os.fsdecode(p)


class EventSink:
    """What the watcher calls; implemented by the daemon."""

    def file_changed(self, path: str, *, closed: bool, event_time: float) -> None: ...
    def file_deleted(self, path: str) -> None: ...
    def file_moved(self, src: str, dest: str, event_time: float) -> None: ...
    def dir_appeared(self, path: str) -> None: ...
    def dir_deleted(self, path: str) -> None: ...
    def handler_error(self, error: BaseException) -> None: ...


class Handler(FileSystemEventHandler):
    def __init__(self, sink: EventSink) -> None:
        self.sink = sink

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self._route(event)
        except Exception as e:  # noqa: BLE001 - raising here would kill the dispatcher
            self.sink.handler_error(e)

    def _route(self, event: FileSystemEvent) -> None:
        now = time.monotonic()
        src = _s(event.src_path)
        if src.endswith(IGNORED_SUFFIXES):
            return
        if isinstance(event, FileClosedEvent):
            self.sink.file_changed(src, closed=True, event_time=now)
        elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
            self.sink.file_changed(src, closed=False, event_time=now)
        elif isinstance(event, FileDeletedEvent):
            self.sink.file_deleted(src)
        elif isinstance(event, FileMovedEvent):
            self.sink.file_moved(src, _s(event.dest_path), now)
        elif isinstance(event, DirCreatedEvent):
            self.sink.dir_appeared(src)
        elif isinstance(event, DirMovedEvent):
            self.sink.dir_deleted(src)
            self.sink.dir_appeared(_s(event.dest_path))
        elif isinstance(event, DirDeletedEvent):
            self.sink.dir_deleted(src)


class OverflowDetector(logging.Handler):
    """Turns watchdog's overflow / rebuild-failure warnings into a callback."""

    LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify",
               "watchdog.observers.inotify_buffer")
    MARKERS = ("overflow", "Unable to rebuild", "inotify watch limit")

    def __init__(self, on_overflow: Callable[[str], None]) -> None:
        super().__init__(level=logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if any(m in msg for m in self.MARKERS):
            self.on_overflow("overflow" if "overflow" in msg else "watch-error")

    def install(self) -> None:
        for name in self.LOGGERS:
            lg = logging.getLogger(name)
            lg.addHandler(self)
            if lg.getEffectiveLevel() > logging.WARNING:
                lg.setLevel(logging.WARNING)

    def uninstall(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


class PolicyDirHandler(FileSystemEventHandler):
    """Any change under the policy directory (an edit, a ``git pull``) asks the
    daemon to reload its policy; the daemon debounces and keeps the last good
    policy when the new one fails to load."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self.on_change = on_change

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            path = _s(event.src_path)
            if "/.git/" in path or path.endswith((".swp", "~")):
                return
            if event.event_type in ("closed", "created", "deleted", "moved", "modified"):
                self.on_change()
        except Exception:  # noqa: BLE001 - raising here would kill the dispatcher
            log.exception("policy watch handler failed")
