"""Watching root trees with watchdog (inotify), guarded against its known
failure modes (docs/facts.md):

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

import contextlib
import logging
import os
import threading
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
from watchdog.observers.api import BaseObserver

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


class Watcher:
    """The inotify observer of the root bases (and of the policy directory),
    through watchdog's public API only.

    A base that does not exist yet is skipped with a warning; a reconcile
    calls ``ensure_watched`` for every base that exists by then. A base whose
    watch ended (its directory was deleted: watchdog stops that emitter) is
    watched again the same way."""

    def __init__(self, sink: EventSink, on_policy_change: Callable[[], None] | None = None,
                 observer_factory: Callable[[], BaseObserver] | None = None) -> None:
        self.sink = sink
        self.on_policy_change = on_policy_change
        self._factory = observer_factory or _inotify_observer
        self._observer: BaseObserver | None = None
        self._lock = threading.Lock()

    def start(self, bases: list[str], policy_dir: str | None = None) -> None:
        obs = self._factory()
        for base in bases:
            if os.path.isdir(base):
                obs.schedule(Handler(self.sink), base, recursive=True, event_filter=ROOT_EVENTS)
            else:
                log.warning("root base does not exist yet; reconcile will retry",
                            extra={"base": base})
        if policy_dir is not None and self.on_policy_change is not None \
                and os.path.isdir(policy_dir):
            obs.schedule(PolicyDirHandler(self.on_policy_change), policy_dir, recursive=True)
        obs.start()
        with self._lock:
            self._observer = obs

    def ensure_watched(self, base: str) -> None:
        """Watch ``base`` unless a live watch already covers it."""
        with self._lock:
            obs = self._observer
            if obs is None:
                return
            emitters = list(obs.emitters)
            if any(e.watch.path == base and e.is_alive() for e in emitters):
                return
            for emitter in emitters:
                if emitter.watch.path == base:
                    with contextlib.suppress(KeyError, OSError):
                        obs.unschedule(emitter.watch)  # ended: its directory went away
            with contextlib.suppress(OSError):
                obs.schedule(Handler(self.sink), base, recursive=True, event_filter=ROOT_EVENTS)

    def alive(self) -> bool:
        return self._observer is None or self._observer.is_alive()

    def restart(self, bases: list[str], policy_dir: str | None = None) -> None:
        self.stop()
        self.start(bases, policy_dir)

    def stop(self) -> None:
        with self._lock:
            obs, self._observer = self._observer, None
        if obs is not None:
            with contextlib.suppress(Exception):  # a dead observer may fail to stop
                obs.stop()
                obs.join(timeout=5)


def _inotify_observer() -> BaseObserver:
    from watchdog.observers.inotify import InotifyObserver

    return InotifyObserver()
