"""Scan workers do not outlive the process they serve, however it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

POOL = r"""
import json, os, sys, time
from daemon.scan.workers import ScannerSpec, make_executor

def pid() -> int:
    time.sleep(0.3)  # spread the calls so both workers answer
    return os.getpid()

if __name__ == "__main__":
    ex = make_executor(ScannerSpec(state_dir=sys.argv[1], use_ner=False), 2)
    pids = sorted({f.result(timeout=120) for f in [ex.submit(pid) for _ in range(6)]})
    print(json.dumps(pids), flush=True)
    time.sleep(600)  # killed by the test
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_workers_exit_when_their_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "pool.py"  # a file: forkserver children re-import __main__
    script.write_text(POOL)
    parent = subprocess.Popen([sys.executable, str(script), str(tmp_path / "state")], cwd=REPO,
                              stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(REPO)))
    workers: list[int] = []
    try:
        assert parent.stdout is not None
        workers = json.loads(parent.stdout.readline())
        assert len(workers) >= 1 and all(_alive(p) for p in workers)
        parent.send_signal(signal.SIGKILL)  # no chance to shut the pool down
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in workers if _alive(p)] == [], "orphaned scan workers"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:  # a failed run must not leave them behind either
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
