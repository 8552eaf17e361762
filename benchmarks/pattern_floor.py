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

Run: ``.venv/bin/python benchmarks/pattern_floor.py [--rounds 5]``
Nothing printed is a detected value.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


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
