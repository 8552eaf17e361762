"""The daemon's watch on a root tree: only the events it acts on."""

from __future__ import annotations

import os
import time
from pathlib import Path

from watchdog.events import FileSystemEvent

from daemon.node.watch import ROOT_EVENTS, EventSink, Handler


class _Sink(EventSink):
    def __init__(self) -> None:
        self.changed: list[tuple[str, bool]] = []

    def file_changed(self, path: str, *, closed: bool, event_time: float) -> None:
        self.changed.append((path, closed))


class _Counting(Handler):
    """The real handler, counting every event watchdog hands it."""

    def __init__(self, sink: EventSink) -> None:
        super().__init__(sink)
        self.events: list[tuple[str, str]] = []

    def dispatch(self, event: FileSystemEvent) -> None:
        self.events.append((type(event).__name__, os.fsdecode(event.src_path)))
        super().dispatch(event)


def _wait(cond: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_reading_a_watched_file_raises_no_event(tmp_path: Path) -> None:
    """The daemon's own scans open and read every file: with ``ROOT_EVENTS``
    the kernel does not even queue those opens and no-write closes."""
    from watchdog.observers.inotify import InotifyObserver

    sink = _Sink()
    handler = _Counting(sink)
    obs = InotifyObserver()
    obs.schedule(handler, str(tmp_path), recursive=True, event_filter=ROOT_EVENTS)
    obs.start()
    try:
        f = tmp_path / "a.txt"
        f.write_text("hello\n")
        assert _wait(lambda: (str(f), True) in sink.changed), sink.changed
        sink.changed.clear()
        handler.events.clear()
        for _ in range(3):
            f.read_bytes()
        g = tmp_path / "b.txt"  # a later write proves the watch is alive
        g.write_text("x\n")
        assert _wait(lambda: (str(g), True) in sink.changed), sink.changed
        assert all(path == str(g) for path, _ in sink.changed), sink.changed
        assert [e for e in handler.events if e[1] == str(f)] == []
    finally:
        obs.stop()
        obs.join(timeout=5)
