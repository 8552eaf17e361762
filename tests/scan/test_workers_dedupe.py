"""ContentDedupingSubmitter: each distinct content scanned once across workers.

Real scans (pattern-only Scanner, in the inline executor and in a real
process pool); one stub executor for the fallback path, whose trigger (a first
scan that timed out) cannot be produced on demand."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pytest

from daemon.scan.workers import ContentDedupingSubmitter, InlineExecutor, ScannerSpec
from scratchwarden.observations import FileObservation, FileStatus

TEXT = "Write to jane.roe@example.org or call the desk.\n"


def _tree(tmp_path: Path) -> list[Path]:
    paths = []
    for i, (name, text) in enumerate([("a.txt", TEXT), ("b.txt", "nothing to see\n"),
                                      ("a-copy.txt", TEXT), ("a-again.txt", TEXT),
                                      ("a-as.log", TEXT)]):
        d = tmp_path / f"session-{i}"
        d.mkdir()
        (d / name).write_text(text)
        paths.append(d / name)
    return paths


def _check(obs: dict[Path, FileObservation], paths: list[Path]) -> None:
    first = obs[paths[0]]
    assert first.status is FileStatus.SCANNED and first.findings
    for p in (paths[2], paths[3]):               # same content, same suffix: reused
        o = obs[p]
        st = os.lstat(p)
        assert o.path == str(p) and o.status is FileStatus.SCANNED
        assert (o.inode, o.size, o.mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
        assert o.findings == first.findings and o.sha256 == first.sha256
        assert o.mime == first.mime
    assert obs[paths[1]].findings == ()
    assert obs[paths[4]].findings == first.findings   # other suffix: scanned on its own


def _spec_and_tree(tmp_path: Path) -> tuple[ScannerSpec, list[Path]]:
    """A pattern-only scanner spec with its state dir, and ``_tree`` beside it."""
    (tmp_path / "state").mkdir()
    (tmp_path / "tree").mkdir()
    return ScannerSpec(str(tmp_path / "state"), use_ner=False), _tree(tmp_path / "tree")


def test_duplicates_reuse_the_first_scan_inline(tmp_path: Path) -> None:
    spec, paths = _spec_and_tree(tmp_path)
    submitter = ContentDedupingSubmitter(InlineExecutor(spec))
    obs = {p: submitter.submit(str(p)).result() for p in paths}
    _check(obs, paths)
    assert submitter.deduplicated == 2


_POOL_PROBE = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[1] + "/tests/scan")
from test_workers_dedupe import _check, _tree
from daemon.scan.workers import ContentDedupingSubmitter, ScannerSpec, make_executor
tmp = Path(sys.argv[2])
(tmp / "state").mkdir()
(tmp / "tree").mkdir()
paths = _tree(tmp / "tree")
executor = make_executor(ScannerSpec(str(tmp / "state"), use_ner=False), jobs=2)
try:
    submitter = ContentDedupingSubmitter(executor, batch_small=sys.argv[3] == "batch")
    futures = {p: submitter.submit(str(p)) for p in paths}
    submitter.flush()
    obs = {p: f.result(timeout=120) for p, f in futures.items()}
    import gc
    frozen = executor.submit(gc.get_freeze_count).result(timeout=120)
    assert frozen > 10_000, f"expected the worker's start-up heap frozen, found {frozen}"
finally:
    executor.shutdown(wait=True)
_check(obs, paths)
assert submitter.deduplicated == 2, submitter.deduplicated
print("OK")
"""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["one-by-one", "batch"])
def test_duplicates_reuse_the_first_scan_across_worker_processes(tmp_path: Path,
                                                                 mode: str) -> None:
    """In a child interpreter: the process pool's forkserver outlives the pool."""
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _POOL_PROBE, str(repo), str(tmp_path), mode],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "OK", out.stderr[-2000:]


def test_non_regular_and_missing_files_go_to_the_worker(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    target = tmp_path / "a.txt"
    target.write_text(TEXT)
    (tmp_path / "link.txt").symlink_to(target)
    submitter = ContentDedupingSubmitter(InlineExecutor(ScannerSpec(str(state), use_ner=False)))
    assert submitter.submit(str(tmp_path / "link.txt")).result().status is FileStatus.SKIPPED
    gone = submitter.submit(str(tmp_path / "gone.txt")).result()
    assert gone.status is FileStatus.UNSCANNABLE and gone.reason == "vanished"
    assert submitter.deduplicated == 0


class _TimesOutFirst(Executor):
    """Answers the first scan 'scan-timeout', later ones 'scanned' (no findings)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        path = str(args[0])
        self.calls.append(path)
        fut: Future[Any] = Future()
        if len(self.calls) == 1:
            fut.set_result(FileObservation(path, FileStatus.UNSCANNABLE, reason="scan-timeout"))
        else:
            fut.set_result(FileObservation(path, FileStatus.SCANNED, sha256="x"))
        return fut


def test_duplicate_of_a_failed_scan_is_scanned_itself(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(TEXT)
    b.write_text(TEXT)
    executor = _TimesOutFirst()
    submitter = ContentDedupingSubmitter(executor)
    assert submitter.submit(str(a)).result().status is FileStatus.UNSCANNABLE
    again = submitter.submit(str(b)).result()
    assert executor.calls == [str(a), str(b)]
    assert again.path == str(b) and again.status is FileStatus.SCANNED


def test_bounded_memory_of_contents(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    submitter = ContentDedupingSubmitter(
        InlineExecutor(ScannerSpec(str(state), use_ner=False)), max_entries=2)
    for i in range(4):
        p = tmp_path / f"f{i}.txt"
        p.write_text(f"content {i}\n")
        submitter.submit(str(p)).result()
    assert len(submitter._firsts) == 2


class _Recording(InlineExecutor):
    """The inline executor, remembering which task each submit was."""

    def __init__(self, spec: ScannerSpec, fail_batches: bool = False) -> None:
        super().__init__(spec)
        self.tasks: list[tuple[str, object]] = []
        self.fail_batches = fail_batches

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.tasks.append((fn.__name__, args[0]))
        if self.fail_batches and fn.__name__ == "_scan_many_in_worker":
            from concurrent.futures.process import BrokenProcessPool

            fut: Future[Any] = Future()
            fut.set_exception(BrokenProcessPool("a worker died"))
            return fut
        return super().submit(fn, *args, **kwargs)


def test_small_files_go_in_one_batch_and_duplicates_still_reuse(tmp_path: Path) -> None:
    spec, paths = _spec_and_tree(tmp_path)
    executor = _Recording(spec)
    submitter = ContentDedupingSubmitter(executor, batch_small=True)
    futures = {p: submitter.submit(str(p)) for p in paths}
    assert executor.tasks == [] and not any(f.done() for f in futures.values())
    submitter.flush()
    obs = {p: f.result(timeout=5) for p, f in futures.items()}
    _check(obs, paths)
    # a.txt, b.txt and a-as.log in one task; the copies of a.txt never left the parent
    assert executor.tasks == [("_scan_many_in_worker", [str(paths[0]), str(paths[1]),
                                                        str(paths[4])])]
    assert submitter.deduplicated == 2


def test_a_full_batch_leaves_without_flush_and_big_files_go_alone(tmp_path: Path) -> None:
    from daemon.scan.pipeline import MANY_MAX_FILE_BYTES
    from daemon.scan.workers import BATCH_FILES

    state = tmp_path / "state"
    state.mkdir()
    small = [tmp_path / f"s{i}.txt" for i in range(BATCH_FILES)]
    for i, p in enumerate(small):
        p.write_text(f"note {i}: write to jane.roe@example.org\n")
    big = tmp_path / "big.txt"
    big.write_text("x" * (MANY_MAX_FILE_BYTES + 1))
    executor = _Recording(ScannerSpec(str(state), use_ner=False))
    submitter = ContentDedupingSubmitter(executor, batch_small=True)
    futs = [submitter.submit(str(p)) for p in small] + [submitter.submit(str(big))]
    assert [name for name, _ in executor.tasks] == ["_scan_many_in_worker", "_scan_in_worker"]
    assert all(f.result(timeout=5).status is FileStatus.SCANNED for f in futs)
    assert all(f.result().findings for f in futs[:-1])


def test_a_batch_whose_worker_died_is_retried_file_by_file(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(TEXT)
    b.write_text("nothing to see\n")
    executor = _Recording(ScannerSpec(str(state), use_ner=False), fail_batches=True)
    submitter = ContentDedupingSubmitter(executor, batch_small=True)
    fa, fb = submitter.submit(str(a)), submitter.submit(str(b))
    submitter.flush()
    assert fa.result(timeout=5).findings and fb.result(timeout=5).findings == ()
    assert [name for name, _ in executor.tasks] == [
        "_scan_many_in_worker", "_scan_in_worker", "_scan_in_worker"]
