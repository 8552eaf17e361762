"""Scanning in worker processes.

The GIL and Presidio's memory growth under long runs make processes the unit
of parallelism: each worker builds one ``Scanner`` (NER model loaded once) and
is recycled after ``max_tasks`` files. Workers are started with ``forkserver``
so a threaded parent (the daemon) never forks its locks into a child.

Several small files go in one task (``submit_scan_batch``): a task costs the
parent a fixed amount of CPU (pickling, the executor's manager thread, waking
the worker) however small the file, and an agent's files are mostly small.
A batch holds up to ``BATCH_FILES`` files or ``BATCH_BYTES`` bytes;
``Scanner.scan_many`` runs NER once over the text of all of them (shared spaCy
batches) and gives each file the observation ``scan`` would; a file whose scan
raises is recorded unscannable and the others go on. Callers only batch what
is already due, so batching never makes a file wait for others to arrive."""

from __future__ import annotations

import dataclasses
import functools
import gc
import multiprocessing
import os
import select
import stat
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scratchwarden.observations import FileObservation, FileStatus

BATCH_FILES = 16
BATCH_BYTES = 256 * 1024

_scanner: Any = None


@dataclass(frozen=True)
class ScannerSpec:
    """Everything a process needs to build its Scanner (picklable)."""

    state_dir: str
    use_ner: bool = True
    entities: tuple[str, ...] | None = None
    max_scan_seconds: float = 600.0
    max_file_bytes: int | None = None
    parent_pid: int | None = None
    """The process the pool serves (``make_executor`` sets it): a worker exits
    when that process is gone, even if it was killed before it could shut the
    pool down (forkserver children are not its children: no parent-death
    signal reaches them)."""


def build_scanner(spec: ScannerSpec) -> Any:
    from daemon.platform.log_safety import quiet_third_party

    quiet_third_party()
    from daemon.platform.fingerprint import Fingerprinter
    from daemon.platform.state_dir import prepare_state_dir
    from daemon.scan.detect import Detector
    from daemon.scan.pipeline import Scanner

    state = prepare_state_dir(Path(spec.state_dir))
    from daemon.scan.segments import Limits

    detector = Detector(use_ner=spec.use_ner, entities=spec.entities)
    detector.warm_up()
    limits = Limits(max_scan_seconds=spec.max_scan_seconds)
    if spec.max_file_bytes is not None:
        limits = dataclasses.replace(limits, max_file_bytes=spec.max_file_bytes)
    return Scanner(detector=detector, fingerprinter=Fingerprinter.from_state_dir(state),
                   limits=limits)


def _init_worker(spec: ScannerSpec) -> None:
    global _scanner
    os.nice(5)  # scanning yields to the agents' own work
    if spec.parent_pid is not None:
        _exit_with(spec.parent_pid)
    _scanner = build_scanner(spec)
    # What is built so far (the model, Presidio's registry, compiled patterns)
    # lives as long as the worker: kept out of the collector's view, a full
    # collection no longer walks it (ADR 0006).
    gc.freeze()


def _exit_with(pid: int) -> None:
    """End this worker when process ``pid`` ends: a thread waits on a pidfd
    (Linux >= 5.3). An orphaned worker would otherwise keep its model (~250 MB)
    after a SIGKILLed daemon."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        os._exit(0)  # already gone
    except OSError:
        return  # no pidfd here: the pool's own shutdown is all there is

    def wait() -> None:
        select.select([fd], [], [])
        os._exit(0)

    threading.Thread(target=wait, name="sw-parent-watch", daemon=True).start()


def _scan_in_worker(path: str) -> FileObservation:
    assert _scanner is not None, "worker not initialised"
    result: FileObservation = _scanner.scan(path)
    return result


def _scan_many_in_worker(paths: list[str]) -> list[FileObservation]:
    assert _scanner is not None, "worker not initialised"
    return scan_many_safely(_scanner, paths)


def scan_many_safely(scanner: Any, paths: Sequence[str]) -> list[FileObservation]:
    """``scanner.scan_many(paths)``: one observation per path, in order. Should
    the batch raise, each path is scanned alone, and a path whose scan raises
    is recorded unscannable (``worker-error:<type>``): one bad file never
    costs the others."""
    if len(paths) > 1:
        try:
            return list(scanner.scan_many(list(paths)))
        except Exception:  # noqa: BLE001, S110 - retried one by one just below
            pass
    return [_scan_alone(scanner, path) for path in paths]


def _scan_alone(scanner: Any, path: str) -> FileObservation:
    try:
        result: FileObservation = scanner.scan(path)
    except Exception as e:  # noqa: BLE001 - recorded with the reason
        return FileObservation(path, FileStatus.UNSCANNABLE,
                               reason=f"worker-error:{type(e).__name__}")
    return result


class InlineExecutor(Executor):
    """One process, no pool: for ``--jobs 1`` and for tests."""

    def __init__(self, spec: ScannerSpec) -> None:
        self._scanner = build_scanner(spec)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        try:
            if fn is _scan_in_worker:
                fut.set_result(self._scanner.scan(*args))
            elif fn is _scan_many_in_worker:
                fut.set_result(scan_many_safely(self._scanner, *args))
            else:
                fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - delivered through the future
            fut.set_exception(e)
        return fut


def make_executor(spec: ScannerSpec, jobs: int, max_tasks: int = 2000) -> Executor:
    if jobs == 0:
        jobs = os.cpu_count() or 1
    if jobs == 1:
        return InlineExecutor(spec)
    ctx = multiprocessing.get_context("forkserver")
    if spec.parent_pid is None:
        spec = dataclasses.replace(spec, parent_pid=os.getpid())
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                               initargs=(spec,), max_tasks_per_child=max_tasks)


def submit_scan(executor: Executor, path: str) -> Future[FileObservation]:
    return executor.submit(_scan_in_worker, path)


def submit_scan_batch(executor: Executor, paths: Sequence[str]
                      ) -> Future[list[FileObservation]]:
    """Scan several small files in ONE worker task: the future gives one
    observation per path, in order (``Scanner.scan_many``: the same results as
    ``submit_scan`` per path, NER run once over all their text). Worth it for
    bursts of small files (< 64 KB: bigger ones are scanned one by one inside
    the task); keep a batch to a few dozen files so one task stays short. A
    file whose scan raises is recorded unscannable and the others go on
    (``scan_many_safely``); a worker that dies fails the whole batch's future:
    resubmit its paths one by one with ``submit_scan`` to learn which file it was."""
    return executor.submit(_scan_many_in_worker, list(paths))


class ContentDedupingSubmitter:
    """Submits scans so that each distinct content is scanned once across ALL
    workers, not once per worker (``Scanner``'s cache is per process, so a
    duplicate that lands on another worker would be extracted and scanned again).

    ``submit(path)`` stats and hashes the file in the calling process (SHA-256,
    hundreds of MB/s: small next to a scan). A regular file whose (digest, name
    suffix) matches a scan already submitted is not sent to a worker: its
    future resolves, when that first scan completes, to the first scan's
    findings, mime and reason with this file's own path and stat fields (the
    same thing ``Scanner``'s content cache gives). It IS scanned by a worker
    when the first scan did not end ``scanned`` with that digest (e.g. it timed
    out, or its file changed meanwhile), when the file changed while it was
    hashed, or when it cannot be read here (the worker records why).
    Remembers the last ``max_entries`` contents. Thread-safe. Additive to
    ``submit_scan``, which stays as it was.

    With ``batch_small``, files of at most ``MANY_MAX_FILE_BYTES`` wait in a
    batch of up to ``BATCH_FILES`` files / ``BATCH_BYTES`` bytes that goes to
    a worker as one ``submit_scan_batch`` task (NER shared across the files,
    ~15% less CPU than one task per file on the benchmark corpus). A waiting
    batch leaves only when full or on ``flush()``: call it before waiting on
    the futures. If the batch task fails (its worker died), each of its files
    is resubmitted alone: on an executor that survives that, only the file
    that killed the worker fails; a broken ``ProcessPoolExecutor`` fails them
    all, as it fails every later task."""

    def __init__(self, executor: Executor, max_entries: int = 4096,
                 batch_small: bool = False) -> None:
        self.executor = executor
        self.max_entries = max_entries
        self.batch_small = batch_small
        self._firsts: OrderedDict[tuple[str, str], Future[FileObservation]] = OrderedDict()
        self._lock = threading.Lock()
        self._pending: list[tuple[str, Future[FileObservation]]] = []
        self._pending_bytes = 0
        self.deduplicated = 0

    def submit(self, path: str) -> Future[FileObservation]:
        key_st = _content_key(path)
        if key_st is None:
            return submit_scan(self.executor, path)
        key, st = key_st
        with self._lock:
            first = self._firsts.get(key)
            if first is None:
                fut = self._submit_locked(path, st.st_size)
                self._firsts[key] = fut
                while len(self._firsts) > self.max_entries:
                    self._firsts.popitem(last=False)
                return fut
            self._firsts.move_to_end(key)
            self.deduplicated += 1
        dup: Future[FileObservation] = Future()
        first.add_done_callback(lambda f: self._resolve(dup, f, path, st, key[0]))
        return dup

    def flush(self) -> None:
        """Send the waiting batch of small files to a worker now."""
        with self._lock:
            self._flush_locked()

    def _submit_locked(self, path: str, size: int) -> Future[FileObservation]:
        from daemon.scan.pipeline import MANY_MAX_FILE_BYTES

        if not self.batch_small or size > MANY_MAX_FILE_BYTES:
            return submit_scan(self.executor, path)
        fut: Future[FileObservation] = Future()
        self._pending.append((path, fut))
        self._pending_bytes += size
        if len(self._pending) >= BATCH_FILES or self._pending_bytes >= BATCH_BYTES:
            self._flush_locked()
        return fut

    def _flush_locked(self) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        if not batch:
            return
        try:
            task = submit_scan_batch(self.executor, [p for p, _ in batch])
        except BaseException as e:  # noqa: BLE001 - e.g. the pool shut down: tell the callers
            for _, fut in batch:
                fut.set_exception(e)
            return
        task.add_done_callback(lambda t: self._split(t, batch))

    def _split(self, task: Future[list[FileObservation]],
               batch: list[tuple[str, Future[FileObservation]]]) -> None:
        """Each file's observation to its own future; after a failed task, each
        file again in a task of its own (or the submit error, pool broken)."""
        if not task.cancelled() and task.exception() is None:
            for (_, fut), obs in zip(batch, task.result(), strict=True):
                fut.set_result(obs)
            return
        for path, fut in batch:
            try:
                again = submit_scan(self.executor, path)
            except BaseException as e:  # noqa: BLE001 - delivered through the future
                fut.set_exception(e)
                continue
            again.add_done_callback(functools.partial(_copy_into, fut))

    def _resolve(self, dup: Future[FileObservation], first: Future[FileObservation],
                 path: str, st: os.stat_result, digest: str) -> None:
        obs = None if first.cancelled() or first.exception() is not None else first.result()
        if obs is not None and obs.status is FileStatus.SCANNED and obs.sha256 == digest:
            dup.set_result(_same_content(obs, path, st))
            return
        try:
            again = submit_scan(self.executor, path)
        except BaseException as e:  # noqa: BLE001 - e.g. the pool shut down: tell the caller
            dup.set_exception(e)
            return
        again.add_done_callback(lambda f: _copy_outcome(f, dup))


def _content_key(path: str) -> tuple[tuple[str, str], os.stat_result] | None:
    """((sha256, suffix), stat) of a regular file that did not change while it
    was hashed; None when that cannot be said here (the worker will report)."""
    from daemon.scan.pipeline import _unchanged, sha256_file

    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode):
            return None
        digest = sha256_file(path)
    except OSError:
        return None
    if not _unchanged(path, st):
        return None
    return (digest, os.path.splitext(path)[1].lower()), st


def _same_content(first: FileObservation, path: str, st: os.stat_result) -> FileObservation:
    """``first``'s scan result for another file with the same content."""
    return dataclasses.replace(first, path=path, size=st.st_size, inode=st.st_ino,
                               device=st.st_dev, mtime_ns=st.st_mtime_ns,
                               scan_seconds=0.0, cpu_seconds=0.0)


def _copy_into(dst: Future[FileObservation], src: Future[FileObservation]) -> None:
    _copy_outcome(src, dst)


def _copy_outcome(src: Future[FileObservation], dst: Future[FileObservation]) -> None:
    if src.cancelled():
        dst.cancel()
    elif (e := src.exception()) is not None:
        dst.set_exception(e)
    else:
        dst.set_result(src.result())
