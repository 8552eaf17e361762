#!/usr/bin/env python3
"""Fuzz every extractor and the policy and config parsers for a bounded time.

    python benchmarks/fuzz.py                       # every target, 10 s each
    python benchmarks/fuzz.py --seconds 600 --jobs 2 --workdir /var/tmp/swfuzz
    python benchmarks/fuzz.py --target pdf --target tar --seconds 60
    python benchmarks/fuzz.py --list
    python benchmarks/fuzz.py --replay pdf FILE...  # rerun inputs, print outcomes
    python benchmarks/fuzz.py --minimize pdf FILE   # shrink a crashing input

Engine: coverage-guided with atheris (libFuzzer) when it is installed, each
target in its own process; otherwise, said loudly in the table, a seeded
mutation fuzzer without coverage feedback. Targets, seeds and the oracle
(what counts as a documented outcome) are in ``fuzz_targets.py``.

A crash is: an exception other than the documented outcomes, a broken
invariant, one input running past ``--timeout`` seconds (a hang), or memory
past ``--rss-mb`` (an address-space limit in the fuzzing process, and
libFuzzer's RSS limit). Distinct crashes (by exception type and the
innermost frame of our code) are saved under ``WORKDIR/TARGET/crashes/``;
the run goes on after a Python exception and restarts the target with its
corpus after a hang or an out-of-memory exit, until its time is spent.

The table: executions, executions per second, distinct crashes (hangs and
out-of-memory included), libFuzzer's coverage (``cov``: edges of the
instrumented Python bytecode -- ours, the stdlib's and the libraries'; ``ft``:
features), the corpus size at the end, and the slowest input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import fuzz_targets  # noqa: E402
from fuzz_targets import TARGETS, Target, seeds_of, tokens_of  # noqa: E402

OUR_CODE = (f"{os.sep}daemon{os.sep}", f"{os.sep}policies{os.sep}", f"{os.sep}inventory{os.sep}")
GRACE_S = 60.0
STARTUP_S = 300.0  # instrumenting, under load
MAX_RESTARTS = 50


@dataclass
class Crash:
    signature: str
    kind: str             # exception | hang | oom | libfuzzer
    count: int
    file: str
    message: str


@dataclass
class Result:
    target: str
    engine: str
    seconds: float = 0.0
    executions: int = 0
    crashes: dict[str, Crash] = field(default_factory=dict)
    cov: int | None = None
    ft: int | None = None
    corpus: int | None = None
    slowest_s: float = 0.0
    restarts: int = 0
    stalls: int = 0       # hang or OOM exits whose input replayed fast and small
    note: str = ""

    @property
    def rate(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


# --- crash bookkeeping (both engines) -----------------------------------------

def signature(e: BaseException) -> str:
    """Exception type plus the innermost frame in our code (else innermost)."""
    frames = traceback.extract_tb(e.__traceback__)
    ours = [f for f in frames if any(p in f.filename for p in OUR_CODE)]
    where = (ours or frames or [None])[-1]
    at = f"{Path(where.filename).name}:{where.name}" if where else "?"
    inner = frames[-1] if frames else None
    deep = f"<{Path(inner.filename).name}:{inner.name}" if inner and inner is not where else ""
    return f"{type(e).__name__}@{at}{deep}"


class Tally:
    """Distinct crashes of one process, with the first input of each saved."""

    def __init__(self, target: str, crash_dir: Path, stats_path: Path) -> None:
        self.target = target
        self.crash_dir = crash_dir
        self.stats_path = stats_path
        self.executions = 0
        self.slowest = 0.0
        self.crashes: dict[str, Crash] = {}
        self._flushed = 0.0

    def record(self, e: BaseException, data: bytes, kind: str = "exception") -> None:
        sig = signature(e)
        known = self.crashes.get(sig)
        if known is not None:
            known.count += 1
            return
        digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()[:12]
        path = self.crash_dir / f"{kind}-{digest}"
        path.write_bytes(data)
        self.crashes[sig] = Crash(sig, kind, 1, str(path), _safe_message(e))
        self.flush(force=True)

    def ran(self, seconds: float) -> None:
        self.executions += 1
        self.slowest = max(self.slowest, seconds)
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._flushed < 1.0:
            return
        self._flushed = now
        tmp = self.stats_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"executions": self.executions, "slowest_s": self.slowest,
                                   "crashes": [asdict(c) for c in self.crashes.values()]}))
        os.replace(tmp, self.stats_path)


def _safe_message(e: BaseException) -> str:
    """The first line of the message, cut: enough to tell crashes apart."""
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text[:160]}"


class Hang(BaseException):
    """An input ran past the per-input limit (a BaseException, so the hostile-
    input ``except Exception`` in extractors cannot swallow it)."""


def limit_memory(rss_mb: int) -> None:
    cap = rss_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


# --- the atheris engine (one process per target) --------------------------------

def atheris_missing() -> str | None:
    try:
        import atheris  # noqa: F401
    except ImportError as e:
        return f"atheris is not installed ({e.name}); pip install 'atheris>=3.0,<4'"
    return None


def worker(name: str, work: Path, seconds: int, timeout: int, rss_mb: int, as_mb: int,
           scope: str) -> None:
    """Runs in the fuzzing child: libFuzzer drives ``target.run``."""
    import atheris

    target = TARGETS[name]
    tally = Tally(name, work / "crashes", work / f"stats-{os.getpid()}.json")
    for seed in seeds_of(target):  # import what the target imports lazily (pypdf, docx)
        _crash_of(target, seed, timeout)
    if scope == "all":
        atheris.instrument_all()
    else:
        instrument(("daemon", "policies", *target.modules))
    limit_memory(as_mb)

    def one(data: bytes) -> None:
        t0 = time.perf_counter()
        try:
            target.run(data)
        except MemoryError as e:  # the address-space limit
            tally.record(e, data, "oom")
        except Exception as e:  # noqa: BLE001 - every undocumented exception is a finding
            tally.record(e, data)
        tally.ran(time.perf_counter() - t0)

    argv = [sys.argv[0], str(work / "corpus"), f"-max_total_time={seconds}",
            f"-timeout={timeout}", f"-rss_limit_mb={rss_mb}", f"-max_len={target.max_len}",
            f"-dict={work / 'tokens.dict'}", f"-artifact_prefix={work / 'crashes'}/",
            "-print_final_stats=1", "-reload=0"]
    atheris.Setup(argv, one)
    (work / f"started-{os.getpid()}").write_text(repr(time.time()))
    atheris.Fuzz()


def instrument(prefixes: tuple[str, ...]) -> int:
    """Instrument the functions of the modules under ``prefixes`` only (all
    of them, ``instrument_all``, costs ~30 s of start-up on this machine)."""
    import gc

    import atheris

    def wanted(obj: object) -> bool:
        mod = getattr(obj, "__module__", None)
        return (isinstance(obj, types.FunctionType) and isinstance(mod, str)
                and any(mod == p or mod.startswith(p + ".") for p in prefixes))

    funcs = [obj for obj in gc.get_objects() if wanted(obj)]
    for func in funcs:
        try:
            atheris.instrument_func(func)
        except Exception as e:  # noqa: BLE001 - a function atheris cannot patch stays as is
            print(f"not instrumented: {func.__qualname__}: {e}", file=sys.stderr)
    print(f"INFO: instrumented {len(funcs)} functions of {', '.join(prefixes)}", file=sys.stderr)
    return len(funcs)


def write_dict(path: Path, tokens: tuple[bytes, ...]) -> None:
    lines = ['"' + "".join(f"\\x{b:02x}" for b in t) + '"' for t in tokens]
    path.write_text("\n".join(lines) + "\n")


_FINAL = re.compile(r"stat::number_of_executed_units: (\d+)")
_COV = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)")


def run_atheris(target: Target, work: Path, seconds: float, timeout: int, rss_mb: int,
                nice: int, scope: str = "ours") -> Result:
    """Fuzz ``target`` for ``seconds`` of fuzzing (instrumenting is not
    counted), restarting after a hang or an out-of-memory exit."""
    result = Result(target.name, "atheris")
    prepare(target, work)
    while (left := seconds - result.seconds) >= 2:
        proc = _spawn(target, work, int(left), timeout, rss_mb, nice, result.restarts, scope)
        try:
            proc.wait(timeout=left + STARTUP_S + GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            result.note = "worker overran its time and was killed"
        result.seconds += _fuzzed_seconds(work)
        _collect(result, work, proc.returncode, result.restarts, timeout, rss_mb)
        if proc.returncode == 0 or result.restarts >= MAX_RESTARTS:
            break
        result.restarts += 1
    result.corpus = sum(1 for _ in (work / "corpus").iterdir())
    return result


def _fuzzed_seconds(work: Path) -> float:
    """Seconds since the worker started fuzzing (0 if it never did)."""
    end = time.time()
    total = 0.0
    for marker in work.glob("started-*"):
        total += max(0.0, end - float(marker.read_text()))
        marker.unlink()
    return total


def prepare(target: Target, work: Path) -> None:
    (work / "corpus").mkdir(parents=True, exist_ok=True)
    (work / "crashes").mkdir(exist_ok=True)
    for seed in seeds_of(target):
        digest = hashlib.sha1(seed, usedforsecurity=False).hexdigest()
        (work / "corpus" / f"seed-{digest}").write_bytes(seed)
    write_dict(work / "tokens.dict", tokens_of(target))


def _spawn(target: Target, work: Path, seconds: int, timeout: int, rss_mb: int, nice: int,
           run: int, scope: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", target.name,
           "--workdir", str(work), "--seconds", str(seconds), "--timeout", str(timeout),
           "--rss-mb", str(rss_mb), "--instrument", scope]
    log = (work / f"libfuzzer-{run}.log").open("wb")
    with log:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=lambda: os.nice(nice))  # noqa: PLW1509


def _collect(result: Result, work: Path, code: int, run: int, timeout: int = 10,
             rss_mb: int = 1024) -> None:
    log = (work / f"libfuzzer-{run}.log").read_text(errors="replace")
    stats = _merge_stats(result, work)
    final = _FINAL.findall(log)
    result.executions += int(final[-1]) if final else stats
    covs = _COV.findall(log)
    if covs:
        result.cov, result.ft = int(covs[-1][0]), int(covs[-1][1])
    if code == 0:
        return
    kind = ("hang" if "libFuzzer: timeout" in log else
            "oom" if "out-of-memory" in log else "libfuzzer")
    written = re.findall(r"Test unit written to (\S+)", log)
    art = written[-1] if written else ""
    if kind in ("hang", "oom") and art and not _reproduces(result.target, art, timeout, rss_mb):
        result.stalls += 1  # the machine stalled the worker: the input itself is fast
        return
    sig = f"{kind}: " + re.sub(r"\d+", "N", _uncaught(log))
    old = result.crashes.get(sig)
    if old:
        old.count += 1
    else:
        result.crashes[sig] = Crash(sig, kind, 1, art, _tail(log))


def _reproduces(target: str, path: str, timeout: int, rss_mb: int) -> bool:
    """Replay one input in a fresh process under the same limits."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--replay", target, path,
           "--timeout", str(timeout), "--rss-mb", str(rss_mb)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout * 3 + 60, check=False)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode != 0


def _merge_stats(result: Result, work: Path) -> int:
    """Fold the worker's own tally in; return its execution count."""
    execs = 0
    for path in work.glob("stats-*.json"):
        data = json.loads(path.read_text())
        path.unlink()
        execs += int(data["executions"])
        result.slowest_s = max(result.slowest_s, float(data["slowest_s"]))
        for c in data["crashes"]:
            old = result.crashes.get(c["signature"])
            if old:
                old.count += int(c["count"])
            else:
                result.crashes[c["signature"]] = Crash(**c)
    return execs


def _uncaught(log: str) -> str:
    m = re.search(r"=== Uncaught Python exception: ===\n(.+)", log)
    if m:
        return m.group(1)[:120]
    m = re.search(r"ERROR: libFuzzer: (.+)", log)
    return m.group(1)[:120] if m else "worker exited"


def _tail(log: str) -> str:
    lines = [ln for ln in log.splitlines() if ln.strip() and not ln.startswith("#")]
    return " | ".join(lines[-3:])[:300]


# --- the mutation engine (no atheris; also the test suite's smoke run) -----------

def mutate(rng: random.Random, data: bytes, pool: list[bytes], tokens: tuple[bytes, ...],
           max_len: int) -> bytes:
    """One random edit: flip, set, insert, delete, duplicate, splice, token."""
    buf = bytearray(data)
    for _ in range(1 + rng.randrange(4)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[pos % len(buf)] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:
            buf[pos % len(buf)] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x0A, 0x22, rng.randrange(256)))
        elif op == 2:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(1 + rng.randrange(8)))
        elif op == 3 and buf:
            del buf[pos:pos + 1 + rng.randrange(32)]
        elif op == 4 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start:start + 1 + rng.randrange(64)] * (1 + rng.randrange(4))
        elif op == 5:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            buf = buf[:pos] + other[cut:]
        elif tokens:
            buf[pos:pos] = rng.choice(tokens)
    return bytes(buf[:max_len])


def run_mutate(target: Target, work: Path, seconds: float, timeout: int, seed: int = 1,
               note: str = "", runs: int | None = None) -> Result:
    """Seeds first, then random edits of corpus inputs, in this process, for
    ``seconds`` or, given ``runs``, exactly that many mutated inputs (the
    deterministic smoke run of the test suite)."""
    result = Result(target.name, "mutate", note=note)
    (work / "crashes").mkdir(parents=True, exist_ok=True)
    tally = Tally(target.name, work / "crashes", work / "stats-mutate.json")
    rng = random.Random(seed)
    pool = seeds_of(target)
    tokens = tokens_of(target)
    old = signal.signal(signal.SIGALRM, _alarm)
    t0 = time.monotonic()
    try:
        for data in _inputs(rng, pool, tokens, target.max_len, t0 + seconds, runs):
            _one_bounded(target.run, data, tally, timeout)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    result.seconds = time.monotonic() - t0
    result.executions, result.slowest_s, result.crashes = (
        tally.executions, tally.slowest, tally.crashes)
    result.corpus = len(pool)
    return result


def _inputs(rng: random.Random, pool: list[bytes], tokens: tuple[bytes, ...], max_len: int,
            deadline: float, runs: int | None) -> Iterator[bytes]:
    yield from list(pool)
    n = 0
    while (time.monotonic() < deadline) if runs is None else n < runs:
        n += 1
        yield mutate(rng, rng.choice(pool), pool, tokens, max_len)


def _alarm(signum: int, frame: object) -> None:
    raise Hang("input ran past the per-input time limit")


def _one_bounded(run: Callable[[bytes], None], data: bytes, tally: Tally, timeout: int) -> None:
    t0 = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        run(data)
    except Hang as e:
        tally.record(e, data, "hang")
    except MemoryError as e:
        tally.record(e, data, "oom")
    except Exception as e:  # noqa: BLE001 - every undocumented exception is a finding
        tally.record(e, data)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    tally.ran(time.perf_counter() - t0)


# --- replay and minimize --------------------------------------------------------

def replay(target: Target, files: list[str], timeout: int) -> int:
    """Rerun saved inputs; print each outcome; exit 1 if any still crashes."""
    bad = 0
    for f in files:
        data = Path(f).read_bytes()
        err = _crash_of(target, data, timeout)
        print(f"{f}: {'ok' if err is None else 'CRASH ' + err}")
        bad += err is not None
    return 1 if bad else 0


def _crash_of(target: Target, data: bytes, timeout: int) -> str | None:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        target.run(data)
    except (Exception, Hang) as e:  # noqa: BLE001 - a crash is what we look for
        return signature(e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return None


def minimize(target: Target, path: Path, timeout: int) -> bytes:
    """Delta debugging: drop ever smaller chunks while the same crash holds."""
    data = path.read_bytes()
    want = _crash_of(target, data, timeout)
    if want is None:
        raise SystemExit(f"{path}: does not crash {target.name}")
    chunk = max(len(data) // 2, 1)
    while chunk >= 1:
        i, shrunk = 0, False
        while i < len(data):
            cand = data[:i] + data[i + chunk:]
            if cand and _crash_of(target, cand, timeout) == want:
                data, shrunk = cand, True
            else:
                i += chunk
        if not shrunk:
            chunk //= 2
    out = path.with_name(path.name + ".min")
    out.write_bytes(data)
    print(f"{want}: {len(path.read_bytes())} -> {len(data)} bytes, {out}")
    return data


# --- the table -------------------------------------------------------------------

def table(results: list[Result]) -> str:
    head = (f"{'target':<9} {'engine':<7} {'seconds':>7} {'execs':>9} {'exec/s':>7} "
            f"{'crashes':>7} {'cov':>6} {'ft':>6} {'corpus':>6} {'slowest':>8}")
    rows = [head, "-" * len(head)]
    for r in results:
        distinct = len(r.crashes)
        rows.append(f"{r.target:<9} {r.engine:<7} {r.seconds:>7.0f} {r.executions:>9} "
                    f"{r.rate:>7.0f} {distinct:>7} {_n(r.cov):>6} {_n(r.ft):>6} "
                    f"{_n(r.corpus):>6} {r.slowest_s:>7.2f}s")
    for r in results:
        for c in r.crashes.values():
            rows.append(f"  {r.target}: {c.kind} x{c.count} {c.signature}\n"
                        f"      {c.message}\n      input: {c.file}")
        if r.stalls:
            rows.append(f"  {r.target}: {r.stalls} hang/OOM exit(s) not reproduced on replay "
                        "(the machine stalled the worker; not counted as crashes)")
        if r.note:
            rows.append(f"  {r.target}: {r.note}")
    return "\n".join(rows)


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


# --- main ---------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--target", action="append", choices=sorted(TARGETS))
    p.add_argument("--seconds", type=float, default=10.0, help="per target (default 10)")
    p.add_argument("--timeout", type=int, default=10, help="per input, seconds (default 10)")
    p.add_argument("--rss-mb", type=int, default=1024, help="memory cap (default 1024)")
    p.add_argument("--jobs", type=int, default=1, help="targets fuzzed at once (default 1)")
    p.add_argument("--nice", type=int, default=10)
    p.add_argument("--workdir", type=Path, help="corpora and crashes (default: a temp dir)")
    p.add_argument("--engine", choices=("auto", "atheris", "mutate"), default="auto")
    p.add_argument("--instrument", choices=("ours", "all"), default="ours",
                   help="coverage of our code and the target's parsing libraries (default), "
                   "or of everything loaded (slow to start)")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--list", action="store_true")
    p.add_argument("--replay", nargs="+", metavar=("TARGET", "FILE"))
    p.add_argument("--minimize", nargs=2, metavar=("TARGET", "FILE"))
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    logging.disable(logging.CRITICAL)  # pypdf warns on every damaged input it recovers from
    if a.worker:
        worker(a.worker, a.workdir, int(a.seconds), a.timeout, a.rss_mb, 2 * a.rss_mb,
               a.instrument)
        return 0
    if a.list:
        for t in TARGETS.values():
            print(f"{t.name:<9} {t.what}")
        return 0
    if a.replay:
        limit_memory(2 * a.rss_mb)
        return replay(TARGETS[a.replay[0]], a.replay[1:], a.timeout)
    if a.minimize:
        minimize(TARGETS[a.minimize[0]], Path(a.minimize[1]), a.timeout)
        return 0
    return fuzz(a)


def fuzz(a: argparse.Namespace) -> int:
    missing = atheris_missing()
    engine = a.engine if a.engine != "auto" else ("mutate" if missing else "atheris")
    if engine == "atheris" and missing:
        print(missing, file=sys.stderr)
        return 2
    if missing:
        print(f"NOTE: {missing}; using the mutation engine (no coverage guidance)")
    work = a.workdir or Path(tempfile.mkdtemp(prefix="scratchwarden-fuzz-"))
    names = a.target or list(TARGETS)
    print(f"fuzzing {len(names)} target(s), {a.seconds:g} s each, engine {engine}, "
          f"workdir {work}", flush=True)

    def one(name: str) -> Result:
        d = work / name
        if engine == "atheris":
            return run_atheris(TARGETS[name], d, a.seconds, a.timeout, a.rss_mb, a.nice,
                               a.instrument)
        return run_mutate(TARGETS[name], d, a.seconds, a.timeout, note=missing or "")

    if engine == "mutate":
        limit_memory(4 * a.rss_mb)  # this process holds the interpreter and all targets
        results = [one(n) for n in names]
    else:
        with ThreadPoolExecutor(max(1, a.jobs)) as pool:
            results = list(pool.map(one, names))
    print(table(results))
    if a.json:
        a.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    if not a.workdir and not any(r.crashes for r in results):
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(r.crashes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["fuzz_targets", "main", "minimize", "mutate", "run_atheris", "run_mutate", "table"]
