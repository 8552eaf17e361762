"""The reconciler, driven without its thread, over real files and a real
SQLite inventory: what a walk queues, skips and reports vanished; and the
watcher it re-arms through watchdog's public API."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from daemon.host.roots import RootSet
from daemon.node.contracts import Deleted, DirDeleted
from daemon.node.intake import Intake
from daemon.node.reconciler import Reconciler, ReconcileRequests
from daemon.node.status import Counters
from daemon.node.watch import Watcher
from daemon.node.work_queue import KnownFiles, WorkQueue
from inventory.store import Recording, Store
from scratchwarden.observations import FileObservation, FileStatus
from tests.daemon.daemon_harness import Posted, one_root

NODE = "n1"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'inventory.db'}")
    try:
        yield s
    finally:
        s.close()


class _Watched:
    def __init__(self) -> None:
        self.bases: list[str] = []

    def ensure_watched(self, base: str) -> None:
        self.bases.append(base)


def _reconciler(tmp: Path, store: Store, roots: RootSet,
                watcher: _Watched | None = None) -> tuple[Reconciler, Posted]:
    seen = Posted()
    counters = Counters()
    r = Reconciler(node=NODE, roots=roots, queue=WorkQueue(100), known=KnownFiles(),
                   inventory=store, post=seen.post, requests=ReconcileRequests(counters),
                   counters=counters, stop=threading.Event(), watcher=watcher)
    return r, seen


def _record(store: Store, roots: RootSet, path: Path, status: FileStatus = FileStatus.SCANNED,
            reason: str | None = None) -> None:
    st = path.stat()
    m = roots.match(str(path))
    assert m is not None
    obs = FileObservation(str(path), status, reason=reason, size=st.st_size, inode=st.st_ino,
                          mtime_ns=st.st_mtime_ns)
    store.record_many(NODE, [Recording(obs, root=m.key)], now=datetime.now(UTC))


def test_a_walk_queues_new_changed_and_unscannable_files_and_skips_the_rest(
        tmp_path: Path, store: Store) -> None:
    roots = one_root(tmp_path)
    s1 = tmp_path / "root" / "s1"
    same, changed, failed, new = (s1 / n for n in ("same", "changed", "failed", "new"))
    for f in (same, changed, failed):
        f.write_text("v1")
        _record(store, roots, f, *((FileStatus.UNSCANNABLE, "x") if f is failed else ()))
    changed.write_text("v2, longer")
    new.write_text("n")
    (s1 / "own.swenc").write_text("ciphertext")
    (s1 / ".tmp.data.tmp").write_text("t")
    watched = _Watched()
    r, seen = _reconciler(tmp_path, store, roots, watched)
    r.reconcile("start")
    queued = sorted(os.path.basename(i.path) for i in r.queue.take_due(1e12, 10, timeout=0))
    assert queued == ["changed", "failed", "new"]
    assert seen.messages == []
    assert r.counters.reconciles == 1 and r.counters.last_reconcile is not None
    assert watched.bases == [str(tmp_path / "root")]
    st = same.stat()
    r.known.RACY_NS = -(10**19)
    assert r.known.unchanged(str(same), st)  # remembered: its next event is skipped


def test_a_file_the_inventory_knows_that_is_gone_is_reported_deleted(
        tmp_path: Path, store: Store) -> None:
    roots = one_root(tmp_path)
    s1 = tmp_path / "root" / "s1"
    gone, kept = s1 / "gone", s1 / "kept.swenc"
    for f in (gone, kept):
        f.write_text("v")
        _record(store, roots, f)
    gone.unlink()
    r, seen = _reconciler(tmp_path, store, roots)
    r.reconcile("overflow")
    assert seen.messages == [Deleted(str(gone))]  # ciphertext still counts as present


def test_a_request_during_a_walk_runs_another_after_it(tmp_path: Path, store: Store) -> None:
    r, _ = _reconciler(tmp_path, store, one_root(tmp_path))
    assert r._running.acquire()
    try:
        r.reconcile("overflow")
    finally:
        r._running.release()
    assert r.counters.reconciles == 0 and r.requests.take() == "overflow"
    assert r.requests.take() is None


def test_missed_events_are_counted_and_ask_for_a_reconcile() -> None:
    requests = ReconcileRequests(Counters())
    requests.events_missed("queue-full")
    assert requests.counters.overflows == 1 and requests.take() == "queue-full"


def _wait(cond: object, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_base_that_appears_or_comes_back_is_watched_again(tmp_path: Path) -> None:
    """The watcher starts before its base exists; ``ensure_watched`` (what a
    reconcile calls) arms it. When the base is deleted watchdog ends that
    watch; once the base is back, ``ensure_watched`` arms a new one."""
    base = tmp_path / "root"
    roots = one_root(tmp_path)
    os.rmdir(base / "s1")
    os.rmdir(base)
    seen = Posted()
    intake = Intake(roots=roots, queue=WorkQueue(100), known=KnownFiles(), post=seen.post,
                    events_missed=seen.events_missed, quiet_period=lambda: 0.0)
    watcher = Watcher(intake)
    watcher.start([str(base)])
    try:
        (base / "s1").mkdir(parents=True)
        watcher.ensure_watched(str(base))
        watcher.ensure_watched(str(base))  # already watched: nothing more
        (base / "s1" / "a").write_text("x")
        assert _wait(lambda: len(intake.queue) == 1)
        (base / "s1" / "a").unlink()
        (base / "s1").rmdir()
        base.rmdir()
        assert _wait(lambda: any(isinstance(m, DirDeleted) for m in seen.messages))
        (base / "s1").mkdir(parents=True)
        watcher.ensure_watched(str(base))
        (base / "s1" / "b").write_text("y")
        assert _wait(lambda: any(i.path.endswith("/b") for i in
                                 intake.queue.take_due(1e12, 10, timeout=0)))
        assert watcher.alive()
    finally:
        watcher.stop()

