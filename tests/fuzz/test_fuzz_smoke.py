"""The fuzzing harness (``benchmarks/fuzz.py``) keeps working: every target
runs its seeds and a fixed set of mutations with no crash, the oracle tells
a documented outcome from a crash, a hang and a memory blow-up, and the
coverage-guided engine (atheris) reports executions and coverage."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import fuzz  # noqa: E402
import fuzz_targets  # noqa: E402
from fuzz_targets import TARGETS, BrokenInvariant, Target, check_segments  # noqa: E402

from daemon.scan.segments import Segment  # noqa: E402
from scratchwarden.errors import Unscannable  # noqa: E402

EXPECTED = {"text", "json", "csv", "pdf", "docx", "mail", "zip", "gzip", "tar", "sqlite",
            "dispatch", "policy", "config"}


def test_every_extractor_and_parser_is_a_target() -> None:
    assert set(TARGETS) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seeds_and_mutations_run_clean(name: str, tmp_path: Path) -> None:
    target = TARGETS[name]
    seeds = fuzz_targets.seeds_of(target)
    result = fuzz.run_mutate(target, tmp_path, seconds=0, timeout=20, runs=25)
    assert result.executions == len(seeds) + 25
    assert result.crashes == {}, fuzz.table([result])


def _raising(data: bytes) -> None:
    if b"x" in data:
        raise ValueError("boom")


def test_an_undocumented_exception_is_a_crash_with_its_input_saved(tmp_path: Path) -> None:
    target = Target("raises", "", _raising, lambda: [b"abc", b"x"])
    result = fuzz.run_mutate(target, tmp_path, seconds=0, timeout=5, runs=50)
    (crash,) = result.crashes.values()
    assert crash.kind == "exception" and crash.signature.startswith("ValueError@")
    assert b"x" in Path(crash.file).read_bytes()
    assert "1 " in fuzz.table([result]).splitlines()[2]  # the table counts it


def _documented(data: bytes) -> None:
    raise Unscannable("corrupt", "does not parse")


def test_a_documented_outcome_is_not_a_crash(tmp_path: Path) -> None:
    target = Target("documented", "", lambda d: fuzz_targets.outcome(lambda: _documented(d), d),
                    lambda: [b"abc"])
    assert fuzz.run_mutate(target, tmp_path, seconds=0, timeout=5, runs=10).crashes == {}


def _slow(data: bytes) -> None:
    if data == b"slow":
        time.sleep(5)


def test_an_input_past_the_time_limit_is_a_hang(tmp_path: Path) -> None:
    target = Target("slow", "", _slow, lambda: [b"fast", b"slow"])
    t0 = time.monotonic()
    result = fuzz.run_mutate(target, tmp_path, seconds=0, timeout=1, runs=0)
    assert time.monotonic() - t0 < 4
    (crash,) = result.crashes.values()
    assert crash.kind == "hang" and Path(crash.file).read_bytes() == b"slow"


def test_an_undocumented_unscannable_reason_breaks_the_oracle() -> None:
    with pytest.raises(BrokenInvariant, match="undocumented"):
        fuzz_targets.check_file_error(Unscannable("weird", ""), b"")


def test_an_error_detail_quoting_the_input_breaks_the_oracle() -> None:
    value = b"AKIAIOSFODNN7EXAMPLE0123456789"
    with pytest.raises(BrokenInvariant, match="quotes the input"):
        fuzz_targets.check_file_error(Unscannable("corrupt", f"bad {value.decode()}"),
                                      b"key=" + value)


@pytest.mark.parametrize("seg, problem", [
    (Segment(text="ok", locator="row=1\n;col=a"), "control character"),
    (Segment(text="a\ud800"), "lone surrogate"),
    (Segment(text="ok", locators=((5, "x"),)), "outside text"),
    (Segment(text="y" * 5000), "segment of 5000"),
])
def test_segment_invariants(seg: Segment, problem: str) -> None:
    with pytest.raises(BrokenInvariant, match=problem):
        check_segments([seg])


def test_without_atheris_the_run_says_so_and_still_fuzzes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "atheris", None)  # import atheris -> ImportError
    monkeypatch.setattr(fuzz, "limit_memory", lambda mb: None)  # not in the test process
    assert fuzz.main(["--target", "gzip", "--seconds", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "atheris is not installed" in out and "engine mutate" in out
    row = next(line for line in out.splitlines() if line.startswith("gzip "))
    assert int(row.split()[3]) > 0  # executions


def test_atheris_engine_reports_executions_and_coverage(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    result = fuzz.run_atheris(TARGETS["csv"], tmp_path, seconds=2, timeout=10, rss_mb=1024,
                              nice=0)
    assert result.crashes == {}, fuzz.table([result])
    assert result.executions > 100 and result.seconds >= 1.5
    assert result.cov and result.cov > 50 and result.corpus and result.corpus >= 4


def test_a_hang_exit_whose_input_replays_fast_is_a_stall_not_a_crash(tmp_path: Path) -> None:
    unit = tmp_path / "timeout-1"
    unit.write_bytes(b"a,b\n1,2\n")
    (tmp_path / "libfuzzer-0.log").write_text(
        f"==1== ERROR: libFuzzer: timeout after 15 seconds\nTest unit written to {unit}\n")
    result = fuzz.Result("csv", "atheris")
    fuzz._collect(result, tmp_path, 70, 0, timeout=10, rss_mb=1024)
    assert (result.stalls, result.crashes) == (1, {})


def test_a_worker_dying_otherwise_is_a_crash(tmp_path: Path) -> None:
    (tmp_path / "libfuzzer-0.log").write_text(
        "==1== ERROR: libFuzzer: deadly signal\nTest unit written to /x/crash-1\n")
    result = fuzz.Result("csv", "atheris")
    fuzz._collect(result, tmp_path, 1, 0)
    (crash,) = result.crashes.values()
    assert crash.kind == "libfuzzer" and crash.file == "/x/crash-1"
