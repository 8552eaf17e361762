"""Shared fixtures. An autouse fixture fails any test that leaks a thread or a
child process (the watchdog model)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def _children() -> set[int]:
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as f:
            return {int(x) for x in f.read().split()}
    except OSError:
        return set()


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    children_before = _children()
    yield
    deadline = time.monotonic() + 5
    while True:
        leaked = [t for t in threading.enumerate()
                  if t not in threads_before and t.is_alive()
                  and not t.name.startswith(("QueueFeederThread", "pydevd"))]
        kids = _children() - children_before
        if not leaked and not kids:
            break
        if time.monotonic() > deadline:
            for p in multiprocessing.active_children():
                p.kill()
            pytest.fail(f"test leaked threads {[t.name for t in leaked]} / "
                        f"processes {sorted(kids)}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


def pytest_configure(config: pytest.Config) -> None:
    # No test may reach the network for the public suffix list.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    # the secret catalogue's compiled rules, shared by this run's processes (a 0700 dir)
    import tempfile

    os.environ.setdefault("SCRATCHWARDEN_RULE_CACHE", tempfile.mkdtemp(prefix="sw-rules-"))
    sys.dont_write_bytecode = True
