"""The recorder, driven without its thread: pacing of commits, the order in
which messages reach the real SQLite inventory, retries while it is down, and
what it accounts."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from daemon.host.roots import RootSet
from daemon.node.contracts import Deleted, DirDeleted, Message, Observed, Renamed
from daemon.node.recorder import LocalInventory, Recorder
from daemon.node.status import Counters
from daemon.node.work_queue import KnownFiles, Pending
from inventory.store import Store
from scratchwarden.errors import InventoryUnavailable
from scratchwarden.observations import FileObservation, FileStatus
from tests.daemon.daemon_harness import one_root

NODE = "n1"


class _Writes:
    """An InventoryWriter that records batches and fails the first ``fail`` times."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.batches: list[list[Message]] = []

    def write(self, batch: Sequence[Message], now: datetime) -> list[str]:
        if self.fail:
            self.fail -= 1
            raise InventoryUnavailable("down")
        self.batches.append(list(batch))
        return [m.path for m in batch if isinstance(m, Deleted)]


def _recorder(writer: _Writes, missed: list[str] | None = None,
              stop: threading.Event | None = None) -> Recorder:
    return Recorder(writer=writer, known=KnownFiles(), counters=Counters(),
                    events_missed=(missed if missed is not None else []).append,
                    stop=stop or threading.Event())


def _observed(path: str, root: str | None = None, **fields: object) -> Observed:
    obs = FileObservation(path, FileStatus.SCANNED, **fields)  # type: ignore[arg-type]
    return Observed(Pending(path, 0.0, time.monotonic() - 0.01, root), obs)


# -------------------------------------------------------------------- pacing

def test_a_stream_of_observations_is_recorded_in_few_transactions() -> None:
    r = _recorder(_Writes())
    r.last_commit = time.monotonic()  # a commit just started: the next one waits

    def produce() -> None:
        for i in range(20):
            r.post(Deleted(f"/x/{i}"))
            time.sleep(0.001)

    t = threading.Thread(target=produce)
    t.start()
    batches: list[list[Message]] = []
    while sum(len(b) for b in batches) < 20:
        batches.append(r.gather())
    t.join()
    assert len(batches) < 20
    assert [m for b in batches for m in b] == [Deleted(f"/x/{i}") for i in range(20)]


def test_a_batch_never_exceeds_its_cap() -> None:
    r = _recorder(_Writes())
    r.RECORD_BATCH = 5
    for i in range(12):
        r.post(Deleted(f"/x/{i}"))
    assert [len(r.gather()) for _ in range(3)] == [5, 5, 2]


def test_a_full_queue_asks_for_a_reconcile() -> None:
    missed: list[str] = []
    r = Recorder(writer=_Writes(), known=KnownFiles(), counters=Counters(),
                 events_missed=missed.append, stop=threading.Event(), capacity=1)
    r.POST_TIMEOUT = 0.01
    r.post(Deleted("/a"))
    assert missed == []
    r.post(Deleted("/b"))
    assert missed == ["results-full"] and r.gather() == [Deleted("/a")]


# ------------------------------------------------------------ retries, drain

def test_a_down_store_is_retried_then_written_once(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = _Writes(fail=2)
    stop = threading.Event()
    waits: list[float] = []
    monkeypatch.setattr(stop, "wait", lambda s: waits.append(s) or False)
    r = _recorder(writer, stop=stop)
    r.record([Deleted("/a")])
    assert writer.batches == [[Deleted("/a")]] and waits == [1, 2]
    assert r.counters.deleted == 1


def test_a_store_down_five_times_gives_the_batch_to_a_reconcile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    missed: list[str] = []
    stop = threading.Event()
    monkeypatch.setattr(stop, "wait", lambda s: False)
    r = _recorder(_Writes(fail=99), missed, stop)
    r.record([Deleted("/a")])
    assert missed == ["inventory-unavailable"] and r.counters.deleted == 0


def test_stopping_drains_what_is_queued_and_waits_for_busy_workers() -> None:
    writer = _Writes()
    stop = threading.Event()
    r = _recorder(writer, stop=stop)
    busy = [True, True, False]
    r.post(Deleted("/a"))
    stop.set()
    r.run(busy=lambda: busy.pop(0))
    assert writer.batches == [[Deleted("/a")]] and busy == []


def test_an_observation_is_accounted_and_remembered(tmp_path: Path) -> None:
    r = _recorder(_Writes())
    f = tmp_path / "a"
    f.write_text("0123456789")
    st = os.lstat(f)
    m = _observed(str(f), size=10, inode=st.st_ino, mtime_ns=st.st_mtime_ns, cpu_seconds=0.25)
    bad = Observed(m.item, FileObservation("/r/s1/b", FileStatus.UNSCANNABLE, reason="x"))
    r.record([m, bad])
    c = r.counters
    assert (c.files_scanned, c.bytes_scanned, c.scan_errors) == (1, 10, 1)
    assert [s for _, s in c.cpu] == [0.25]
    assert not r.known.unchanged(str(f), st)  # too recent to trust the mtime
    r.known.RACY_NS = -(10**19)
    assert r.known.unchanged(str(f), st)
    assert not r.known.unchanged("/r/s1/b", st)  # an unscannable file is never skipped


# ---------------------------------------------------- the real local store

@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'inventory.db'}")
    try:
        yield s
    finally:
        s.close()


def _scanned(path: Path, roots: RootSet) -> Observed:
    st = path.stat()
    m = roots.match(str(path))
    return _observed(str(path), m.key if m else None, size=st.st_size, inode=st.st_ino,
                     mtime_ns=st.st_mtime_ns)


def test_messages_reach_the_store_in_the_order_they_happened(tmp_path: Path,
                                                              store: Store) -> None:
    roots: RootSet = one_root(tmp_path)
    s1 = tmp_path / "root" / "s1"
    a, b = s1 / "a.txt", s1 / "b.txt"
    a.write_text("one")
    b.write_text("two")
    inv = LocalInventory(store, NODE, roots)
    now = datetime.now().astimezone()
    # a is scanned, then renamed to c; b is scanned, then deleted: all in one batch
    deleted = inv.write([_scanned(a, roots), Renamed(str(a), str(s1 / "c.txt")), _scanned(b, roots),
                         Deleted(str(b))], now)
    assert deleted == [str(b)]
    assert store.get_asset(NODE, str(a)) is None
    moved = store.get_asset(NODE, str(s1 / "c.txt"))
    assert moved is not None and moved.session == "s1" and moved.status == "scanned"
    gone = store.get_asset(NODE, str(b))
    assert gone is not None and gone.status == "deleted"


def test_a_deleted_directory_ends_every_vanished_file_beneath_it(tmp_path: Path,
                                                                 store: Store) -> None:
    roots = one_root(tmp_path)
    d = tmp_path / "root" / "s1" / "d"
    d.mkdir()
    files = [d / "x.txt", d / "y.txt", tmp_path / "root" / "s1" / "keep.txt"]
    for f in files:
        f.write_text("z")
    inv = LocalInventory(store, NODE, roots)
    now = datetime.now().astimezone()
    inv.write([_scanned(f, roots) for f in files], now)
    (d / "x.txt").unlink()
    (d / "y.txt").unlink()
    d.rmdir()
    assert sorted(inv.write([DirDeleted(str(d))], now)) == sorted(str(f) for f in files[:2])
    statuses = {f.name: store.get_asset(NODE, str(f)).status for f in files}  # type: ignore[union-attr]
    assert statuses == {"x.txt": "deleted", "y.txt": "deleted", "keep.txt": "scanned"}
