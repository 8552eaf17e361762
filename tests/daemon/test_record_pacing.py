"""The recorder spaces its commits: a stream of observations goes into few
transactions, each at most ``RECORD_BATCH``. Driven on a Daemon that is not
running."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from daemon.node.supervisor import Daemon
from tests.daemon.daemon_harness import unstarted_daemon


def _daemon(tmp: Path) -> Daemon:
    d: Daemon = unstarted_daemon(tmp)
    return d


def test_a_stream_of_observations_is_recorded_in_few_transactions(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    d._last_commit = time.monotonic()  # a commit just started: the next one waits

    def produce() -> None:
        for i in range(20):
            d.results.put(("observed", i))
            time.sleep(0.001)

    t = threading.Thread(target=produce)
    t.start()
    batches: list[list[tuple[str, Any]]] = []
    while sum(len(b) for b in batches) < 20:
        batches.append(d._gather())
    t.join()
    assert len(batches) < 20 and [x for b in batches for _, x in b] == list(range(20))


def test_a_batch_never_exceeds_its_cap(tmp_path: Path) -> None:
    d = _daemon(tmp_path)
    d.RECORD_BATCH = 5
    for i in range(12):
        d.results.put(("observed", i))
    assert [len(d._gather()) for _ in range(3)] == [5, 5, 2]
