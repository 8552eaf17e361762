"""Warming the scan workers before the daemon reports READY.

Building a worker's Scanner loads the NER model, but its first scan still
pays for lazy set-up (recognizers, the e-mail recognizer's suffix list,
extractor imports), and in the daemon every file that became due meanwhile
waited behind it: the first files after a start set the latency's 99th
percentile (ADR 0007). So each worker scans small synthetic samples (no real
person's data) once before the daemon is READY.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import Executor
from pathlib import Path

from daemon.platform.files import atomic_write, ensure_private_dir
from daemon.scan import workers

SAMPLES = {
    "sample.json": json.dumps({"tool": "crm.lookup", "result": {
        "name": "Jane Doe", "email": "jane.doe@example.com", "phone": "212-555-0100"}}),
    "sample.txt": ("Customer Jane Doe wrote in about order 1234. Reply to "
                   "jane.doe@example.com or call 212-555-0100.\n"),
}
ROUNDS = 5


def warm_workers(executor: Executor, count: int, state_dir: Path,
                 timeout: float = 300.0) -> int:
    """Every worker scans the samples once; returns the distinct workers
    that did (a worker that still loads its model when the others finish
    gets another round, up to ``ROUNDS``)."""
    where = ensure_private_dir(state_dir / "warmup")
    try:
        paths = [_write(where / name, text) for name, text in SAMPLES.items()]
        if isinstance(executor, workers.InlineExecutor):
            for path in paths:  # the inline executor holds its own Scanner
                workers.submit_scan(executor, path)
            return 1
        return _rounds(executor, count, paths, timeout)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def _rounds(executor: Executor, count: int, paths: list[str], timeout: float) -> int:
    seen: set[int] = set()
    for _ in range(ROUNDS):
        futures = [executor.submit(_warm, paths) for _ in range(max(1, count))]
        seen |= {f.result(timeout=timeout) for f in futures}
        if len(seen) >= count:
            break
    return len(seen)


def _warm(paths: list[str]) -> int:
    """Runs in a worker: scan the samples, then hold the worker briefly so
    the other warm-up tasks go to the other workers."""
    workers._scan_many_in_worker(paths)
    time.sleep(0.2)
    return os.getpid()


def _write(path: Path, text: str) -> str:
    atomic_write(path, text.encode(), mode=0o600)
    return str(path)
