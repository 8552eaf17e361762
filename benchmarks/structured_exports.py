"""Structured exports by meaning vs cell by cell, in the same run.

The exports agents write (CSV, TSV, JSON arrays of records, NDJSON) are
generated from a seed with Faker identities of eight locales; every planted
cell is labeled. The same scan pipeline and detector (NER on) scans them
twice: with column classification (``Limits.classify_columns``, the default:
``daemon/scan/columns.py``) and without it (every cell read by the detector,
the baseline). Reported side by side: CPU seconds of the scans (median of
``--rounds``), characters per second, and per type the precision and recall
of cells (a planted cell is found when a finding of its class starts inside
it, located by the finding's file position; a finding of a scored class on
no planted cell of that class is a false positive).

Run: ``.venv/bin/python benchmarks/structured_exports.py [--rows N] [--rounds N]``.
Prints counts, rates and times only.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch_pii_set import LOCALES, Person  # noqa: E402

COLUMNS = (("full_name", "PERSON", "name"), ("email", "EMAIL_ADDRESS", "email"),
           ("phone", "PHONE_NUMBER", "phone"), ("street", "ADDRESS", "street"),
           ("city", "LOCATION", "city"), ("card_number", "CREDIT_CARD", "card"),
           ("iban", "IBAN_CODE", "iban"))
SCORED = {c for _, c, _ in COLUMNS}
CLASS = {"LOCATION": "LOCATION", "ADDRESS": "ADDRESS"}


def people(seed: int, n: int) -> list[Person]:
    from faker import Faker

    rng = random.Random(seed)
    fakers = {loc: Faker(loc) for loc in LOCALES}
    for k, loc in enumerate(LOCALES):
        fakers[loc].seed_instance(seed + k)
    return [Person(fakers[loc], rng, loc) for loc in (rng.choice(LOCALES) for _ in range(n))]


def _value(p: Person, attr: str) -> str:
    return str(getattr(p, attr))


Label = tuple[str, int, int]  # class, start, end (file offsets)


def as_csv(rows: list[Person], delim: str = ",") -> tuple[str, list[Label]]:
    out, labels = io.StringIO(), []
    writer = csv.writer(out, delimiter=delim, lineterminator="\n")
    writer.writerow(["id", *(c for c, _, _ in COLUMNS), "status"])
    for i, p in enumerate(rows):
        line_start = out.tell()
        cells = [str(i), *(_value(p, a) for _, _, a in COLUMNS), "active"]
        buf = io.StringIO()
        csv.writer(buf, delimiter=delim, lineterminator="\n").writerow(cells)
        line = buf.getvalue()
        at = 0
        for j, cell in enumerate(cells):
            at = line.index(cell, at)
            if 1 <= j <= len(COLUMNS):
                labels.append((COLUMNS[j - 1][1], line_start + at, line_start + at + len(cell)))
            at += len(cell)
        out.write(line)
    return out.getvalue(), labels


def as_json(rows: list[Person], ndjson: bool) -> tuple[str, list[Label]]:
    parts: list[str] = [] if ndjson else ['{"records": [\n']
    labels: list[Label] = []
    length = sum(map(len, parts))
    for i, p in enumerate(rows):
        pieces = ['{"id": ' + str(i)]
        for col, kind, attr in COLUMNS:
            pieces.append(f', "{col}": "')
            value = _value(p, attr)
            here = length + sum(map(len, pieces))
            labels.append((kind, here, here + len(value)))
            pieces.append(value + '"')
        pieces.append(', "status": "active"}')
        sep = "\n" if ndjson else (",\n" if i < len(rows) - 1 else "\n")
        record = "".join(pieces) + sep
        parts.append(record)
        length += len(record)
    if not ndjson:
        parts.append("]}\n")
    return "".join(parts), labels


def score(labels: list[Label], findings: list[tuple[str, int, int]]
          ) -> tuple[Counter[str], Counter[str], Counter[str]]:
    tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
    by_start: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for kind, s, e in labels:
        by_start.setdefault((kind, s), []).append((s, e))
    hit: set[tuple[str, int]] = set()
    cells = {kind: sorted((s, e) for k, s, e in labels if k == kind) for kind in SCORED}
    for kind, s, _e in findings:
        if kind not in SCORED:
            continue
        inside = [c for c in cells[kind] if c[0] <= s < c[1]]
        if inside:
            hit.add((kind, inside[0][0]))
        else:
            fp[kind] += 1
    for kind, s, _e in labels:
        if (kind, s) in hit:
            tp[kind] += 1
        else:
            fn[kind] += 1
    return tp, fp, fn


def scan_all(paths: list[Path], classify: bool, detector: Any) -> tuple[float, list[Any]]:
    from daemon.platform.fingerprint import Fingerprinter
    from daemon.scan.pipeline import Scanner
    from daemon.scan.segments import Limits

    scanner = Scanner(detector=detector, fingerprinter=Fingerprinter(os.urandom(32)),
                      cache=None, limits=Limits(classify_columns=classify))
    c0 = time.process_time()
    found = [scanner.scan(str(p)).findings for p in paths]
    return time.process_time() - c0, found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--rows", type=int, default=400, help="records per export")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from daemon.scan.detect import Detector

    rows = people(args.seed, args.rows)
    files = {"customers.csv": as_csv(rows), "customers.tsv": as_csv(rows, "\t"),
             "crm_cache.json": as_json(rows, False), "events.ndjson": as_json(rows, True)}
    detector = Detector()
    detector.warm_up()
    with tempfile.TemporaryDirectory(prefix="sw-struct-") as tmp:
        paths = []
        for name, (text, _) in files.items():
            path = Path(tmp) / name
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            paths.append(path)
        chars = sum(len(t) for t, _ in files.values())
        times: dict[bool, list[float]] = {True: [], False: []}
        results: dict[bool, list[Any]] = {}
        for _ in range(args.rounds):
            for classify in (False, True):
                seconds, found = scan_all(paths, classify, detector)
                times[classify].append(seconds)
                results[classify] = found
    print(f"exports: {len(files)} files ({', '.join(files)}), {args.rows} records each, "
          f"{chars} chars; detector with NER; median CPU of {args.rounds} rounds")
    base, ours = statistics.median(times[False]), statistics.median(times[True])
    print(f"cell by cell (baseline): {base:.2f} s CPU ({chars / base / 1000:.1f} kchar/s)")
    print(f"by meaning (columns):    {ours:.2f} s CPU ({chars / ours / 1000:.1f} kchar/s); "
          f"{base / ours:.2f}x faster")
    print(f"\n{'type':<14} {'cells':>6} | {'cell by cell P':>14} {'R':>6} | {'by meaning P':>12} "
          f"{'R':>6}")
    totals = {}
    for classify in (False, True):
        tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
        for (_, labels), obs in zip(files.values(), results[classify], strict=True):
            got = [(f.entity_type, f.offset, f.offset + f.end - f.start)
                   for f in obs if f.offset is not None]
            a, b, c = score(labels, got)
            tp, fp, fn = tp + a, fp + b, fn + c
        totals[classify] = (tp, fp, fn)
    for kind in [c for _, c, _ in COLUMNS]:
        cells = []
        for classify in (False, True):
            tp, fp, fn = totals[classify]
            p = tp[kind] / max(tp[kind] + fp[kind], 1)
            r = tp[kind] / max(tp[kind] + fn[kind], 1)
            cells.append((p, r))
        n = totals[True][0][kind] + totals[True][2][kind]
        print(f"{kind:<14} {n:>6} | {cells[0][0]:>14.3f} {cells[0][1]:>6.3f} | "
              f"{cells[1][0]:>12.3f} {cells[1][1]:>6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
