"""What the secret catalogue dependency (kingfisher) costs a scan worker,
each figure beside its same-run baseline.

* start-up: compiling the bundled rules with no cache, then loading them from
  the compiled cache a worker finds in the state dir (fresh processes each);
* memory: peak RSS (VmHWM) of a fresh process that builds a pattern-only
  ``Detector`` and scans one text, with and without the catalogue recognizer;
* throughput: the pattern-only detector over a mixed agent-scratch text (logs,
  JSON, prose, configs with a few credentials), with and without the
  catalogue recognizer (median of ``--rounds``), and the catalogue alone.

Run: ``.venv/bin/python benchmarks/catalogue_cost.py [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_STARTUP = """
import sys, time
sys.path.insert(0, sys.argv[1])
from daemon.scan.recognizers.catalogue import CatalogueRecognizer
t0 = time.monotonic()
r = CatalogueRecognizer(cache_dir=sys.argv[2] or None)
r.analyze("warm", ["CREDENTIAL"])
print(time.monotonic() - t0)
"""

_MEMORY = """
import sys
sys.path.insert(0, sys.argv[1])
from daemon.scan.detect import Detector, default_recognizers
keep = sys.argv[2] == "1"
recs = [r for r in default_recognizers() if keep or type(r).__name__ != "CatalogueRecognizer"]
d = Detector(use_ner=False, recognizers=recs)
d.warm_up()
d.detect(open(sys.argv[3]).read())
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        print(int(line.split()[1]) // 1024)
"""


def corpus(seed: int = 7, chars: int = 2_000_000) -> str:
    rng = random.Random(seed)
    words = "the a agent session request customer invoice shipped order note retry done".split()
    parts: list[str] = []
    n = 0
    while n < chars:
        kind = rng.randrange(4)
        if kind == 0:
            piece = f"2026-11-21T10:{rng.randint(10, 59)}:00Z INFO " + " ".join(
                rng.choice(words) for _ in range(12)) + f" id={rng.getrandbits(64):x}\n"
        elif kind == 1:
            piece = json.dumps({"tool": "lookup", "latency": rng.random(),
                                "items": [rng.choice(words) for _ in range(8)]}) + "\n"
        elif kind == 2:
            piece = " ".join(rng.choice(words) for _ in range(40)).capitalize() + ".\n"
        else:
            token = "".join(rng.choice("abcdefABCDEF0123456789") for _ in range(36))
            piece = (f"SERVICE_URL=https://api.example.com/v{rng.randint(1, 3)}\n"
                     f"TOKEN=ghp_{token}\n")
        parts.append(piece)
        n += len(piece)
    return "".join(parts)


def _run(code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, str(REPO), *args], capture_output=True,
                         text=True, timeout=600, check=True)
    return out.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    text = corpus()
    with tempfile.TemporaryDirectory(prefix="sw-kf-") as tmp:
        cache = Path(tmp) / "rules"
        cache.mkdir(mode=0o700)
        cold = float(_run(_STARTUP, ""))
        float(_run(_STARTUP, str(cache)))  # fills the cache
        warm = statistics.median(float(_run(_STARTUP, str(cache))) for _ in range(3))
        sample = Path(tmp) / "sample.txt"
        sample.write_text(text[:200_000], encoding="utf-8")
        rss_with = int(_run(_MEMORY, "1", str(sample)))
        rss_without = int(_run(_MEMORY, "0", str(sample)))
    print(f"start-up: rules compiled in {cold:.2f} s with no cache; "
          f"loaded from the state-dir cache in {warm:.2f} s (median of 3 fresh processes)")
    print(f"peak RSS of a pattern-only worker: {rss_with} MB with the catalogue, "
          f"{rss_without} MB without ({rss_with - rss_without:+d} MB)")

    from daemon.scan.detect import Detector, default_recognizers
    from daemon.scan.recognizers.catalogue import CatalogueRecognizer

    recs = default_recognizers()
    with_cat = Detector(use_ner=False, recognizers=recs)
    without = Detector(use_ner=False, recognizers=[
        r for r in default_recognizers() if not isinstance(r, CatalogueRecognizer)])
    alone = CatalogueRecognizer()
    for d in (with_cat, without):
        d.warm_up()
    alone.analyze("warm", ["CREDENTIAL"])
    times: dict[str, list[float]] = {"with": [], "without": [], "alone": []}
    for _ in range(args.rounds):
        for name, run in (("without", lambda: without.detect(text)),
                          ("with", lambda: with_cat.detect(text)),
                          ("alone", lambda: [alone.analyze(text[i:i + 100_000], ["CREDENTIAL"])
                                             for i in range(0, len(text), 100_000)])):
            t0 = time.process_time()
            run()
            times[name].append(time.process_time() - t0)
    mb = len(text.encode()) / 1e6
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"pattern-only detector over {mb:.1f} MB of mixed scratch text (median CPU of "
          f"{args.rounds}): without the catalogue {med['without']:.2f} s "
          f"({mb / med['without']:.2f} MB/s), with it {med['with']:.2f} s "
          f"({mb / med['with']:.2f} MB/s): {med['with'] / med['without']:.2f}x; "
          f"the catalogue alone {med['alone']:.2f} s ({mb / med['alone']:.1f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
