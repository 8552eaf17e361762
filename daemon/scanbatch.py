"""Several small files per worker task.

A task of the process pool costs the daemon ~0.3 ms of CPU (pickling, the
executor's manager thread, waking the worker) however small the file, and an
agent's files are mostly small. Under load the dispatcher therefore hands a
worker every file that is due, up to ``BATCH_FILES`` files or ``BATCH_BYTES``
bytes, in one task; when the workers keep up, a task holds the one file that
just became due, so batching never makes a file wait for others to arrive.

``scan_paths`` is the worker side: ``Scanner.scan_many``, which runs NER once
over the text of all the task's small files (shared spaCy batches) and gives
each file the observation ``scan`` would.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor, Future

from daemon.scan import workers
from inventory.records import FileObservation, FileStatus

BATCH_FILES = 16
BATCH_BYTES = 256 * 1024


def scan_paths(paths: Sequence[str]) -> list[FileObservation]:
    """Runs in a worker: one observation per path, in order, through
    ``Scanner.scan_many`` (NER once over all the small files' text). Should
    the batch raise, each file is scanned alone: a file whose scan raises is
    recorded as unscannable and the others go on."""
    if len(paths) > 1:
        try:
            return workers._scan_many_in_worker(list(paths))
        except Exception:  # noqa: BLE001, S110 - retried one by one just below
            pass
    return [_scan_one(path) for path in paths]


def _scan_one(path: str) -> FileObservation:
    try:
        return workers._scan_in_worker(path)
    except Exception as e:  # noqa: BLE001 - one bad file never costs the batch
        return FileObservation(path, FileStatus.UNSCANNABLE,
                               reason=f"worker-error:{type(e).__name__}")


def submit_batch(executor: Executor, paths: Sequence[str]) -> Future[list[FileObservation]]:
    """One task scanning ``paths`` (``InlineExecutor``: in this process, now)."""
    if isinstance(executor, workers.InlineExecutor):
        return _inline(executor, paths)
    return executor.submit(scan_paths, list(paths))


def _inline(executor: Executor, paths: Sequence[str]) -> Future[list[FileObservation]]:
    out: list[FileObservation] = []
    for path in paths:
        one = workers.submit_scan(executor, path)
        exc = one.exception()
        out.append(one.result() if exc is None else FileObservation(
            path, FileStatus.UNSCANNABLE, reason=f"worker-error:{type(exc).__name__}"))
    fut: Future[list[FileObservation]] = Future()
    fut.set_result(out)
    return fut
