"""The benchmarks' own instruments measure what they say they measure.

``scan_throughput.wait_for_workers`` must not let a timed span start while a
worker is still building its scanner, and ``pattern_floor``'s lookup detector
(the pool ceiling: detection at zero cost) must give exactly the real
detector's findings, by both ways workers call it, and refuse a text it never
saw rather than report nothing for it."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import pattern_floor  # noqa: E402
import scan_throughput  # noqa: E402


def _first_fast_others_slow(flags: str) -> None:
    """Pool initializer: the first worker is ready at once, the others 1.5 s later."""
    try:
        os.close(os.open(os.path.join(flags, "first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        time.sleep(1.5)
    Path(flags, f"up.{os.getpid()}").touch()


def test_wait_for_workers_returns_only_when_every_worker_is_up(tmp_path: Path) -> None:
    pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"),
                               initializer=_first_fast_others_slow, initargs=(str(tmp_path),))
    try:
        # the ready worker alone answers a first batch of tasks at once
        assert pool.submit(os.getpid).result(timeout=60) > 0
        scan_throughput.wait_for_workers(pool, 2)
        assert len(list(tmp_path.glob("up.*"))) == 2
    finally:
        pool.shutdown(wait=True)


def test_wait_for_workers_gives_up_with_a_clear_error(tmp_path: Path) -> None:
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    try:
        with pytest.raises(RuntimeError, match="only 1 of 2 scan workers came up"):
            scan_throughput.wait_for_workers(pool, 2, timeout=0.3)
    finally:
        pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def pattern_scanner(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from daemon.scan.workers import ScannerSpec, build_scanner

    state = tmp_path_factory.mktemp("state")
    return build_scanner(ScannerSpec(state_dir=str(state), use_ner=True,
                                     entities=scan_throughput.PATTERN_ENTITIES))


def test_lookup_detector_gives_the_real_findings_and_refuses_unseen_text(
        tmp_path: Path, pattern_scanner: Any) -> None:
    from daemon.scan.cache import ScanCache

    scanner = pattern_scanner
    g = scan_throughput.Gen(7)
    paths = []
    for i, (kind, _, suffix) in enumerate(scan_throughput.KINDS):
        doc = scan_throughput.make_doc(g, kind, 6000 if i % 2 else 90_000, suffix)
        p = tmp_path / f"doc{i}{suffix}"
        p.write_text(doc.text)
        paths.append(str(p))

    def scan_all(many: bool) -> list[Any]:
        scanner.cache = ScanCache()
        if many:
            return list(scanner.scan_many(paths))
        return [scanner.scan(p) for p in paths]

    real = scan_all(False)
    real_many = scan_all(True)
    assert sum(len(o.findings) for o in real) > 20
    detector = scanner.detector
    seen = pattern_floor.record_lookup(scanner, paths, tmp_path / "table.pickle")
    assert seen and scanner.detector is detector
    assert "detect_many" not in vars(detector)  # the recording hook is gone
    with open(tmp_path / "table.pickle", "rb") as f:
        lookup = pattern_floor.LookupDetector(pickle.load(f))  # noqa: S301 - written above
    scanner.detector = lookup
    try:
        for many, want in ((False, real), (True, real_many)):
            got = scan_all(many)
            assert [o.findings for o in got] == [o.findings for o in want]
            assert [o.status for o in got] == [o.status for o in want]
        with pytest.raises(KeyError):
            lookup.detect("a text this run never scanned", ())
        text, context = seen[0]
        with pytest.raises(KeyError):  # the context is part of the key
            lookup.detect(text, (*context, "another-context"))
    finally:
        scanner.detector = detector
