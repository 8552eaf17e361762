"""Pattern-only scanning: what a Python scan built on Presidio cannot avoid.

Issue 6 asks for >= 50 MB/s pattern-only on the realistic corpus of
``scan_throughput.py`` (duplicates included). This script measures, on that
corpus (same seed), the per-file and per-finding work any scan that keeps
Presidio's recognizers and the inventory's record format must do, however
its matching is organised, and sets it beside the whole scan in the same run:

* SHA-256 of every file (the parent's duplicate check; duplicates included);
* extraction of every distinct file (JSON and CSV parsed into units with
  their locators and context keys; text decoded);
* Presidio's ``validate_result`` and ``invalidate_result`` once per distinct
  (recognizer, verdict key) among the findings, through the scan's own
  shortcuts (``lean.verdict_key``: an email's host; ``lean.invalidator``: a
  plain IPv4 address without ``ipaddress``): the least an exact scan calls
  them (checksums, the email suffix list, ``ipaddress``);
* one keyed HMAC fingerprint per finding;
* pickling the observations to the parent and back (the worker -> parent hop).

It does not count finding where the patterns match, context words, overlap
removal or building the records: those are where a faster design could save.
The sum is a FLOOR: CPU seconds no Python design on this stack gets under.
It prints the floor, the CPU budget the target leaves on this machine's
cores, and the whole scan's CPU on the distinct files (one process, same run).

Then the CEILING, through the pool: the path of ``scratchwarden scan --jobs 0``
(``scan_throughput.run_ours``: all cores, content dedup, small files in
batches, the parent's hashing in the timed span) over every file, in
alternating rounds with a fresh pool each, (a) as it is and (b) with each
worker's detector replaced by a LOOKUP of what the real detector returned for
the same (text, context), recorded beforehand in this process: detection at
zero cost (one SHA-256 of each text), everything else real. (b) is what any
detector, however fast, could reach with the rest of the pipeline as it is.
The lookup rounds' findings are checked equal to the real rounds'.

Run: ``.venv/bin/python benchmarks/pattern_floor.py [--rounds 5] [--pool-rounds 7]``
Nothing printed is a detected value; the lookup table holds offsets, types
and scores, in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import gc
import hashlib
import multiprocessing
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_MB_S = 50.0


def cpu_median(fn: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261122)
    ap.add_argument("--docs", type=int, default=220, help="distinct realistic documents")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pool-rounds", type=int, default=7,
                    help="alternating pool rounds, real scan vs lookup (0: skip)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "benchmarks"))
    import scan_throughput as thru
    from presidio_analyzer import PatternRecognizer

    from daemon.scan import lean
    from daemon.scan.cache import ScanCache
    from daemon.scan.extract import extract_file
    from daemon.scan.segments import Limits
    from daemon.scan.workers import ScannerSpec, build_scanner

    tmp = Path(tempfile.mkdtemp(prefix="sw-floor-"))
    try:
        real = thru.realistic_corpus(tmp / "real", args.seed, args.docs, sessions=24)
        every = sorted(str(p) for p in real)
        firsts: dict[int, str] = {}
        for p in every:
            firsts.setdefault(id(real[Path(p)]), p)
        distinct = sorted(firsts.values())
        total = sum(os.path.getsize(p) for p in every)
        state = tmp / "state"
        state.mkdir()
        scanner = build_scanner(ScannerSpec(state_dir=str(state), use_ner=True,
                                            entities=thru.PATTERN_ENTITIES))
        cores = os.cpu_count() or 1

        def scan_all() -> list[Any]:
            scanner.cache = ScanCache()
            return [scanner.scan(p) for p in distinct]

        observations = scan_all()
        scan_cpu = cpu_median(scan_all, args.rounds)
        by_name = {str(r.name): r for r in scanner.detector._patterns}
        values = [(by_name.get(f.recognizer), v) for p, o in zip(distinct, observations,
                                                                   strict=True)
                  for f, v in zip(o.findings, _values(Path(p), o), strict=True)]
        unique = {(id(r), lean.verdict_key(r)(v)): (r, lean.invalidator(r), v)
                  for r, v in values if isinstance(r, PatternRecognizer)}
        fingerprint = scanner.fingerprinter

        def hashing() -> None:
            for p in every:
                with open(p, "rb") as f:
                    hashlib.sha256(f.read()).hexdigest()

        def extraction() -> None:
            for p in distinct:
                for _ in extract_file(p, Limits()).segments:  # type: ignore[attr-defined]
                    pass

        def validators() -> None:
            for r, invalid, v in unique.values():
                r.validate_result(v)
                invalid(v)

        def fingerprints() -> None:
            for _, v in values:
                fingerprint(v)

        def transport() -> None:
            pickle.loads(pickle.dumps(observations, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301

        rows = [("SHA-256 of every file (duplicates included)", cpu_median(hashing, args.rounds)),
                ("extraction of the distinct files", cpu_median(extraction, args.rounds)),
                (f"Presidio validators, {len(unique)} distinct verdict keys",
                 cpu_median(validators, args.rounds)),
                (f"HMAC fingerprints, {len(values)} findings", cpu_median(fingerprints,
                                                                          args.rounds)),
                ("pickle to the parent and back", cpu_median(transport, args.rounds))]
        floor = sum(t for _, t in rows)
        budget = total / (TARGET_MB_S * 1e6) * cores
        distinct_bytes = sum(os.path.getsize(p) for p in distinct)
        print(f"corpus: {len(every)} files, {total / 1e6:.2f} MB ({len(distinct)} distinct, "
              f"{distinct_bytes / 1e6:.2f} MB); {len(values)} findings; {cores} cores; "
              f"median of {args.rounds} rounds, CPU seconds")
        for name, t in rows:
            print(f"  {name:<52} {t:7.3f}")
        print(f"  {'FLOOR (sum)':<52} {floor:7.3f}")
        print(f"  {'whole scan of the distinct files, one process':<52} {scan_cpu:7.3f}")
        print(f"CPU budget for {TARGET_MB_S:.0f} MB/s over {total / 1e6:.2f} MB on {cores} "
              f"cores: {budget:.3f} s; the floor takes {floor / budget:.0%} of it, the whole "
              f"scan {scan_cpu / budget:.1f}x it")
        print(f"ceiling with zero cost for everything else: {total / (floor / cores) / 1e6:.0f} "
              f"MB/s; the whole scan's CPU alone allows {total / (scan_cpu / cores) / 1e6:.1f} "
              f"MB/s (before the parent's share and the pool's hops)")
        if args.pool_rounds:
            table_path = tmp / "lookup.pickle"
            texts = record_lookup(scanner, distinct, table_path)
            key_cpu = cpu_median(lambda: [_text_key(t, c) for t, c in texts], args.rounds)
            del texts
            lookup_mb = pool_ceiling(thru, every, total, tmp, table_path, args.pool_rounds,
                                     key_cpu)
            validators = rows[2][1]
            bound = total / (total / (lookup_mb * 1e6) + validators / cores) / 1e6
            print(f"  any exact detector on Presidio's recognizers still runs their validators "
                  f"({validators:.3f} s CPU above): with only that added to the lookup's median, "
                  f"{bound:.1f} MB/s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _text_key(text: str, context: Sequence[str]) -> bytes:
    h = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    for c in context:
        h.update(b"\0" + c.encode("utf-8", "surrogatepass"))
    return h.digest()


class LookupDetector:
    """Finds nothing itself: returns what the real detector returned for the
    same (text, context), recorded by ``record_lookup``. A text never recorded
    raises KeyError (the file then ends unscannable and the findings check
    fails): the ceiling is never measured on a detector that missed work."""

    needs_ner = False

    def __init__(self, table: dict[bytes, list[Any]]) -> None:
        self.table = table

    def detect(self, text: str, context: Sequence[str] = (), ner_text: str | None = None
               ) -> list[Any]:
        return self.table[_text_key(text, context)]

    def detect_many(self, items: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
        return [self.table[_text_key(item[0], item[1])] for item in items]


def record_lookup(scanner: Any, paths: Sequence[str], out: Path
                  ) -> list[tuple[str, tuple[str, ...]]]:
    """Scan ``paths`` one by one and, the small ones, in batches (the two ways
    workers call the detector), recording every (text, context) -> findings
    into ``out`` (pickle). Returns the (text, context) pairs seen."""
    from daemon.scan.cache import ScanCache
    from daemon.scan.pipeline import MANY_MAX_FILE_BYTES
    from daemon.scan.workers import BATCH_FILES

    detector = scanner.detector
    real = detector.detect_many
    table: dict[bytes, list[Any]] = {}
    seen: list[tuple[str, tuple[str, ...]]] = []

    def recording(items: Sequence[tuple[Any, ...]]) -> list[list[Any]]:
        found: list[list[Any]] = real(items)
        for item, f in zip(items, found, strict=True):  # (text, context[, ner_text])
            text, context = item[0], item[1]
            table[_text_key(text, context)] = f
            seen.append((text, tuple(context)))
        return found

    detector.detect_many = recording  # Detector.detect goes through it too
    try:
        scanner.cache = ScanCache()
        for p in paths:
            scanner.scan(p)
        warm = out.with_name("warm.txt")
        warm.write_text("warm up\n")  # the file run_ours warms its workers with
        scanner.scan(str(warm))
        small = [p for p in paths if os.path.getsize(p) <= MANY_MAX_FILE_BYTES]
        scanner.cache = ScanCache()
        for i in range(0, len(small), BATCH_FILES):
            scanner.scan_many(small[i:i + BATCH_FILES])
    finally:
        del detector.detect_many
    with open(out, "wb") as f:
        pickle.dump(table, f, protocol=pickle.HIGHEST_PROTOCOL)
    return seen


def _init_lookup_worker(spec: Any, table_path: str) -> None:
    from daemon.scan import workers

    workers._init_worker(spec)
    with open(table_path, "rb") as f:
        table = pickle.load(f)  # noqa: S301 - written by this run
    workers._scanner.detector = LookupDetector(table)
    gc.freeze()  # as _init_worker does with its start-up heap: the table lives as long


def lookup_pool(table_path: Path, spec: Any, jobs: int) -> Executor:
    """``make_executor(spec, jobs)``'s pool, its workers' detector a lookup."""
    ctx = multiprocessing.get_context("forkserver")
    spec = dataclasses.replace(spec, parent_pid=os.getpid())
    return ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1, mp_context=ctx,
                               initializer=_init_lookup_worker,
                               initargs=(spec, str(table_path)), max_tasks_per_child=2000)


def pool_ceiling(thru: Any, paths: list[str], total: int, tmp: Path, table_path: Path,
                 rounds: int, key_cpu: float) -> float:
    """Prints the alternating rounds; returns the lookup rounds' median MB/s."""
    real_mb: list[float] = []
    lookup_mb: list[float] = []
    state = tmp / "pool-state"
    state.mkdir()
    make = functools.partial(lookup_pool, table_path)
    print(f"through the pool (`scratchwarden scan --jobs 0`: {os.cpu_count()} workers, content "
          f"dedup, small files in batches), all {len(paths)} files, MB/s, a fresh pool each:")
    findings = 0
    for i in range(rounds):
        order = (False, True) if i % 2 == 0 else (True, False)
        got: dict[bool, dict[str, Any]] = {}
        for lookup in order:
            obs, seconds, _ = thru.run_ours(paths, state, thru.PATTERN_ENTITIES,
                                            make=make if lookup else None)
            got[lookup] = obs
            (lookup_mb if lookup else real_mb).append(total / seconds / 1e6)
        for p in paths:
            if got[True][p].findings != got[False][p].findings:
                raise SystemExit(f"round {i + 1}: the lookup run's findings differ from the "
                                 f"real scan's on {Path(p).name} ({got[True][p].status.value}, "
                                 f"{got[True][p].reason}): the ceiling would be wrong")
        findings = sum(len(o.findings) for o in got[False].values())
        print(f"  round {i + 1}: real scan {real_mb[-1]:6.1f}   detection by lookup "
              f"{lookup_mb[-1]:6.1f}")
    ratios = [b / a for a, b in zip(real_mb, lookup_mb, strict=True)]
    print(f"  median: real scan {statistics.median(real_mb):.1f} MB/s, detection by lookup "
          f"{statistics.median(lookup_mb):.1f} MB/s (range {min(lookup_mb):.1f}-"
          f"{max(lookup_mb):.1f}); median ratio {statistics.median(ratios):.2f}x; target "
          f"{TARGET_MB_S:.0f} MB/s")
    print(f"  the lookup runs' findings equal the real scan's in every round ({findings} per "
          f"round, duplicates included); the lookup itself costs {key_cpu:.3f} s CPU (one "
          f"SHA-256 per text, one process)")
    return statistics.median(lookup_mb)


def _values(path: Path, obs: Any) -> list[str]:
    """The matched text of each finding, in the order of ``obs.findings``."""
    from daemon.scan.extract import extract_file
    from daemon.scan.segments import Limits

    segments = list(extract_file(str(path), Limits()).segments)  # type: ignore[attr-defined]
    out = []
    for f in obs.findings:
        seg = next(s for s in segments
                   if 0 <= f.start - s.base < len(s.text) and s.locate(f.start - s.base)
                   == f.locator)
        out.append(seg.text[f.start - seg.base:f.end - seg.base])
    return out


if __name__ == "__main__":
    raise SystemExit(main())
