"""Batched scan tasks: the dispatcher hands a worker every small file that is
due, in one task. The dispatcher is driven directly, without its thread (real
files, real queue); the process pool and the warm-up run for real in a child
process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from daemon.host.config import NodeConfig
from daemon.node.dispatcher import Dispatcher
from daemon.node.status import Counters
from daemon.node.work_queue import KnownFiles, Pending, WorkQueue
from daemon.scan import workers
from daemon.scan.workers import BATCH_BYTES, BATCH_FILES
from scratchwarden.observations import FileObservation, FileStatus
from tests.daemon.daemon_harness import Posted, one_root

REPO = Path(__file__).resolve().parents[2]


class _Reconciles(Posted):
    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []


def _dispatcher(tmp: Path, seen: _Reconciles | None = None,
                config: NodeConfig | None = None) -> Dispatcher:
    one_root(tmp)
    seen = seen or _Reconciles()
    cfg = config or NodeConfig(state_dir=tmp / "state", metrics_address=None, workers=2)

    def no_workers() -> workers.InlineExecutor:
        raise AssertionError("these tests never start workers")

    return Dispatcher(settings=lambda: cfg, queue=WorkQueue(100), known=KnownFiles(),
                      post=seen.post, events_missed=seen.events_missed,
                      reconcile=seen.requested.append, counters=Counters(),
                      start_workers=no_workers, workers=2)


def _queue_files(d: Dispatcher, tmp: Path, sizes: list[int]) -> list[str]:
    paths = []
    for i, size in enumerate(sizes):
        p = tmp / "root" / "s1" / f"f{i:03d}.txt"
        p.write_bytes(b"x" * size)
        d.queue.put(str(p), due=0.0, event_time=float(i))
        paths.append(str(p))
    return paths


# ------------------------------------------------------------- dispatching

def test_due_files_are_batched_up_to_the_file_limit(tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    paths = _queue_files(d, tmp_path, [100] * (BATCH_FILES + 3))
    first = d.next_batch()
    assert [i.path for i in first] == paths[:BATCH_FILES]
    assert [i.path for i in d.next_batch()] == paths[BATCH_FILES:]
    assert len(d.queue) == 0


def test_a_file_that_would_overflow_the_byte_limit_leads_the_next_batch(
        tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    paths = _queue_files(d, tmp_path, [1000, 1000, BATCH_BYTES, 10])
    assert [i.path for i in d.next_batch()] == paths[:2]
    big = d.next_batch()
    assert [i.path for i in big] == [paths[2]]  # alone: it fills a batch
    assert big[0].first_event == 2.0            # its latency still counts from its event
    assert [i.path for i in d.next_batch()] == paths[3:]


def test_put_back_goes_first_unless_the_path_was_queued_again(tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    d.queue.put("/a", due=1.0, event_time=1.0)
    d.queue.put("/b", due=1.0, event_time=1.0)
    [a] = d.queue.take_due(now=2.0, limit=1, timeout=0)
    [b] = d.queue.take_due(now=2.0, limit=1, timeout=0)
    assert d.queue.put_back(b)
    d.queue.put("/c", due=1.0, event_time=1.0)
    assert d.queue.put("/a", due=1.5, event_time=1.5)
    assert not d.queue.put_back(a)  # queued again meanwhile: the newer entry stands
    assert [i.path for i in d.queue.take_due(now=2.0, limit=5, timeout=0)] == ["/b", "/c", "/a"]


def test_gone_and_unchanged_files_are_not_dispatched(tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    paths = _queue_files(d, tmp_path, [10, 10, 10])
    os.unlink(paths[0])
    st = os.lstat(paths[1])
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns - 10_000_000_000))
    st = os.lstat(paths[1])
    d.known.remember(paths[1], st.st_ino, st.st_size, st.st_mtime_ns)
    assert [i.path for i in d.next_batch()] == [paths[2]]
    assert d.counters.unchanged_skipped == 1


def test_a_broken_pool_makes_every_file_of_the_task_unscannable(tmp_path: Path) -> None:
    seen = _Reconciles()
    d = _dispatcher(tmp_path, seen)
    batch = [Pending(f"/r/s1/{n}", 0.0, 0.0) for n in "abc"]
    fut: Future[list[FileObservation]] = Future()
    fut.set_exception(BrokenProcessPool("a worker died"))
    got = d.observations(fut, batch)
    assert [(o.path, o.status, o.reason) for o in got] == [
        (i.path, FileStatus.UNSCANNABLE, "worker-crashed") for i in batch]
    assert seen.requested == ["worker-crashed"]  # a reconcile retries them
    assert d.counters.worker_restarts == 1


def test_a_short_answer_is_never_zipped_onto_the_wrong_files(tmp_path: Path) -> None:
    d = _dispatcher(tmp_path)
    batch = [Pending("/r/s1/a", 0.0, 0.0), Pending("/r/s1/b", 0.0, 0.0)]
    fut: Future[list[FileObservation]] = Future()
    fut.set_result([FileObservation("/r/s1/a", FileStatus.SCANNED)])
    assert {o.reason for o in d.observations(fut, batch)} == {"worker-error:short-batch"}


def test_a_finished_task_posts_one_observation_per_file_in_order(tmp_path: Path) -> None:
    seen = _Reconciles()
    d = _dispatcher(tmp_path, seen)
    batch = [Pending("/r/s1/a", 0.0, 1.0, "r"), Pending("/r/s1/b", 0.0, 2.0, "r")]
    fut: Future[list[FileObservation]] = Future()
    d._inflight[fut] = batch
    fut.set_result([FileObservation(i.path, FileStatus.SCANNED) for i in batch])
    d.scan_done(fut)
    assert [(m.item, m.observation.path) for m in seen.messages] == [
        (batch[0], "/r/s1/a"), (batch[1], "/r/s1/b")]
    assert d.idle() and d.inflight() == 0


def test_a_big_file_waits_for_the_heavy_window(tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    now = datetime.now()
    closed = {"start": (now + timedelta(hours=2)).strftime("%H:%M"),
              "end": (now + timedelta(hours=3)).strftime("%H:%M")}
    window = NodeConfig.model_validate({"heavy_windows": [f"{closed['start']}-{closed['end']}"],
                                        "heavy_bytes": 1000, "metrics_address": None})
    d = _dispatcher(tmp_path, config=window)
    paths = _queue_files(d, tmp_path, [5000, 10])
    assert [i.path for i in d.next_batch()] == [paths[1]]
    assert len(d.queue) == 1                       # the big one, queued again
    assert d.queue.take_due(time.monotonic() + 59, 5, timeout=0) == []
    assert [i.path for i in d.queue.take_due(time.monotonic() + 61, 5, timeout=0)] == [paths[0]]


def test_dispatch_pauses_past_the_cpu_budget(tmp_path: Path) -> None:
    budget = NodeConfig.model_validate({"limits": {"cpu_budget": 0.5}, "metrics_address": None})
    d = _dispatcher(tmp_path, config=budget)
    now = time.monotonic()
    d.counters.cpu.append((now, 4.0))
    assert not d.over_budget()                     # 4 s < 0.5 cores x 10 s
    d.counters.cpu.append((now, 2.0))
    assert d.over_budget()
    assert not _dispatcher(tmp_path).over_budget()  # no budget configured


def test_a_pool_that_refuses_the_task_is_replaced_and_the_files_requeued(
        tmp_path: Path) -> None:
    class Broken(workers.InlineExecutor):
        def __init__(self) -> None:
            self.shut = False

        def submit(self, fn: object, /, *args: object, **kwargs: object) -> Future[object]:
            raise BrokenProcessPool("gone")

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            self.shut = True

    started: list[Broken] = []

    def start() -> Broken:
        started.append(Broken())
        return started[-1]

    d = _dispatcher(tmp_path)
    d.start_workers = start
    d.executor = start()
    d._slots.acquire()
    d.submit([Pending("/r/s1/a", 0.0, 1.0, "r")])
    assert len(started) == 2 and started[0].shut and d.executor is started[1]
    assert d.counters.worker_restarts == 1
    assert len(d.queue) == 1 and d._slots.acquire(blocking=False)  # the slot came back


class _FailingBatch:
    """A scanner whose batch fails as a whole: each file is retried alone."""

    def scan(self, path: str) -> FileObservation:
        if path.endswith("bad"):
            raise MemoryError
        return FileObservation(path, FileStatus.SCANNED)

    def scan_many(self, paths: list[str]) -> list[FileObservation]:
        raise MemoryError


class _WholeBatch:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def scan(self, path: str) -> FileObservation:
        raise AssertionError("a batch that scans whole is not scanned file by file")

    def scan_many(self, paths: list[str]) -> list[FileObservation]:
        self.calls.append(list(paths))
        return [FileObservation(p, FileStatus.SCANNED) for p in paths]


def test_one_failing_file_does_not_cost_the_batch() -> None:
    got = workers.scan_many_safely(_FailingBatch(), ["/a", "/bad", "/c"])
    assert [(o.path, o.status, o.reason) for o in got] == [
        ("/a", FileStatus.SCANNED, None),
        ("/bad", FileStatus.UNSCANNABLE, "worker-error:MemoryError"),
        ("/c", FileStatus.SCANNED, None)]


def test_a_batch_goes_through_scan_many_in_one_call() -> None:
    scanner = _WholeBatch()
    got = workers.scan_many_safely(scanner, ["/a", "/b"])
    calls = scanner.calls
    assert calls == [["/a", "/b"]] and [o.path for o in got] == ["/a", "/b"]


# ------------------------------------------------------- the real pool, warm

POOL_SCRIPT = r"""
import json, os, sys
from pathlib import Path
from daemon.scan.workers import ScannerSpec, make_executor
from daemon.scan.workers import submit_scan_batch
from daemon.node.warmup import warm_workers
state, files = Path(sys.argv[1]), sys.argv[2:]
ex = make_executor(ScannerSpec(state_dir=str(state), use_ner=False), 2)
try:
    warmed = warm_workers(ex, 2, state)
    obs = submit_scan_batch(ex, files).result(timeout=120)
finally:
    ex.shutdown(wait=True)
print(json.dumps({"warmed": warmed, "left": os.path.exists(state / "warmup"),
                  "obs": [[o.path, o.status.value, o.reason,
                           sorted({f.entity_type for f in o.findings})] for o in obs]}))
"""


@pytest.mark.slow
def test_a_batch_scans_in_a_real_worker_after_every_worker_warmed(tmp_path: Path) -> None:
    files = []
    for i in range(3):
        p = tmp_path / f"n{i}.txt"
        p.write_text(f"write to user{i}@example.org\n")
        files.append(str(p))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    files += [str(tmp_path / "missing.txt"), str(fifo)]
    out = subprocess.run([sys.executable, "-c", POOL_SCRIPT, str(tmp_path / "state"), *files],
                         cwd=REPO, capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["warmed"] == 2 and got["left"] is False
    assert [o[0] for o in got["obs"]] == files  # in order, one per path
    assert all(o[1:3] == ["scanned", None] and "EMAIL_ADDRESS" in o[3] for o in got["obs"][:3])
    assert got["obs"][3][1] == "unscannable" and got["obs"][4][1:3] == ["skipped", "fifo"]


@pytest.mark.slow
def test_inline_warm_up_scans_in_this_process_and_leaves_no_sample(tmp_path: Path) -> None:
    from daemon.node.warmup import warm_workers
    from daemon.scan.workers import InlineExecutor, ScannerSpec, make_executor

    state = tmp_path / "state"
    ex = make_executor(ScannerSpec(state_dir=str(state), use_ner=False), 1)
    assert isinstance(ex, InlineExecutor)
    assert warm_workers(ex, 1, state) == 1
    assert not (state / "warmup").exists()
