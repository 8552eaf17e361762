"""Scanning in worker processes.

The GIL and Presidio's memory growth under long runs make processes the unit
of parallelism: each worker builds one ``Scanner`` (NER model loaded once) and
is recycled after ``max_tasks`` files. Workers are started with ``forkserver``
so a threaded parent (the daemon) never forks its locks into a child."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inventory.records import FileObservation

_scanner: Any = None


@dataclass(frozen=True)
class ScannerSpec:
    """Everything a process needs to build its Scanner (picklable)."""

    state_dir: str
    use_ner: bool = True
    entities: tuple[str, ...] | None = None
    max_scan_seconds: float = 600.0
    max_file_bytes: int | None = None


def build_scanner(spec: ScannerSpec) -> Any:
    from daemon.logsafety import quiet_third_party

    quiet_third_party()
    from daemon.fingerprint import Fingerprinter
    from daemon.paths import prepare_state_dir
    from daemon.scan.detect import Detector
    from daemon.scan.pipeline import Scanner

    state = prepare_state_dir(Path(spec.state_dir))
    from daemon.scan.segments import Limits

    detector = Detector(use_ner=spec.use_ner, entities=spec.entities)
    limits = Limits(max_scan_seconds=spec.max_scan_seconds)
    if spec.max_file_bytes is not None:
        limits = dataclasses.replace(limits, max_file_bytes=spec.max_file_bytes)
    return Scanner(detector=detector, fingerprinter=Fingerprinter.from_state_dir(state),
                   limits=limits)


def _init_worker(spec: ScannerSpec) -> None:
    global _scanner
    os.nice(5)  # scanning yields to the agents' own work
    _scanner = build_scanner(spec)


def _scan_in_worker(path: str) -> FileObservation:
    assert _scanner is not None, "worker not initialised"
    result: FileObservation = _scanner.scan(path)
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
    return ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                               initargs=(spec,), max_tasks_per_child=max_tasks)


def _ready() -> int:
    time.sleep(0.2)  # spread the pings so every worker gets one
    return os.getpid()


def warm_up(executor: Executor, workers: int, timeout: float = 300.0) -> int:
    """Start every worker and wait until each has built its Scanner (the NER
    model takes seconds to load): the daemon reports READY only then, so the
    first files do not wait for model loads. Returns the distinct workers seen."""
    if isinstance(executor, InlineExecutor):
        return 1
    futures = [executor.submit(_ready) for _ in range(max(1, workers))]
    return len({f.result(timeout=timeout) for f in futures})


def submit_scan(executor: Executor, path: str) -> Future[FileObservation]:
    return executor.submit(_scan_in_worker, path)
