"""One-shot scans: walk the given paths, scan every file (in workers when
asked; each distinct content once, see ``ContentDedupingSubmitter``) and hand
each observation, with the root it was found under, to a sink. The caller
decides what a sink does (the CLI prints it and records it in the inventory):
scanning knows nothing of the inventory."""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from daemon.scan.walk import walk
from daemon.scan.workers import BATCH_FILES, ContentDedupingSubmitter, ScannerSpec, make_executor
from scratchwarden.observations import FileObservation, FileStatus

T = TypeVar("T")


@dataclass
class ScanJob:
    paths: list[str]
    state_dir: Path
    jobs: int = 1
    use_ner: bool = True
    max_scan_seconds: float = 600.0


def iter_targets(paths: list[str]) -> Iterator[tuple[str, str]]:
    """(root, file path) for every non-directory entry under the given paths,
    biggest files first (see ``largest_first``)."""
    found: list[tuple[str, str, int]] = []
    for p in paths:
        root = os.path.abspath(p)
        if not os.path.isdir(root) or os.path.islink(root):
            root = os.path.dirname(root)
        found += [(root, entry.path, entry.stat.st_size) for entry in walk(os.path.abspath(p))]
    for root, path, _size in largest_first(found, key=lambda t: t[2]):
        yield root, path


def largest_first(items: list[T], key: Callable[[T], int]) -> list[T]:
    """Submission order for worker pools: biggest first (stable for equal sizes).
    Scan time grows with size, so a big file submitted last would keep one
    worker busy while the others idle; biggest-first is the classic bound on
    that tail (LPT scheduling): the same CPU, a shorter wall clock
    (ADR 0003)."""
    return sorted(items, key=key, reverse=True)


def run_scan(job: ScanJob, sink: Callable[[str, FileObservation], None],
             progress: bool = False) -> dict[str, int]:
    """Scan every file under ``job.paths``; ``sink(root, observation)`` once per
    file, in completion order. Returns counts by status (and ``with findings``).

    A file that cannot be scanned is an observation with a reason, never an
    exception; a worker that dies makes its files ``worker-error:...``.
    Exceptions raised by ``sink`` propagate (the pool is shut down first)."""
    spec = ScannerSpec(state_dir=str(job.state_dir), use_ner=job.use_ner,
                       max_scan_seconds=job.max_scan_seconds)
    summary: collections.Counter[str] = collections.Counter()

    def done(root: str, obs: FileObservation) -> None:
        summary[obs.status.value] += 1
        if obs.status is FileStatus.SCANNED and obs.findings:
            summary["with findings"] += 1
        sink(root, obs)

    targets = list(iter_targets(job.paths))
    bar = _Progress(len(targets)) if progress else None
    executor = make_executor(spec, job.jobs)
    # A duplicate is scanned once, not per worker; small files go in batches.
    submitter = ContentDedupingSubmitter(executor, batch_small=True)
    try:
        inflight: dict[Future[FileObservation], tuple[str, str]] = {}
        limit = max(4, 4 * max(job.jobs, 1)) * BATCH_FILES
        for root, path in targets:
            inflight[submitter.submit(path)] = (root, path)
            if len(inflight) >= limit:
                submitter.flush()
                _drain(inflight, done, bar, FIRST_COMPLETED)
        submitter.flush()
        _drain(inflight, done, bar, None)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        if bar:
            bar.close()
    return dict(summary)


def _drain(inflight: dict[Future[FileObservation], tuple[str, str]],
           done: Callable[[str, FileObservation], None], bar: _Progress | None,
           mode: str | None) -> None:
    while inflight:
        finished, _ = wait(list(inflight), return_when=mode or "ALL_COMPLETED")
        for fut in finished:
            root, path = inflight.pop(fut)
            try:
                obs = fut.result()
            except Exception as e:  # noqa: BLE001 - a dead worker is one unscannable file
                obs = FileObservation(path=path, status=FileStatus.UNSCANNABLE,
                                      reason=f"worker-error:{type(e).__name__}")
            done(root, obs)
            if bar:
                bar.advance()
        if mode:
            return


class _Progress:
    """A rich progress bar on stderr (only on a terminal)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import Progress

        self._p = Progress(console=Console(stderr=True), transient=True)
        self._p.start()
        self._task = self._p.add_task("scanning", total=total)

    def advance(self) -> None:
        self._p.advance(self._task)

    def close(self) -> None:
        self._p.stop()
