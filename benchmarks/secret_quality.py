"""Secret detection breadth: recall on credential examples, look-alikes flagged.

Data: ``noseyparker_examples.json`` (the positive and negative examples of
189 rules of a public secret-scanner catalogue, Apache-2.0; examples only, no
patterns). Every example is one short snippet as it would sit in a file. It
is a DEVELOPMENT set: the product is judged on other credentials too.

Counting (the same for every system): an example is FLAGGED when the system
reports at least one finding of a secret entity type (the catalogue's
``secrets`` class, ``scratchwarden.entities``) at or above the detector's
threshold. Recall = flagged positives / positives; the negative rate =
flagged negatives / negatives. Positives are also split by the rule's
categories: ``identifier`` rules (an ARN, an OAuth client id, a public key)
name something without granting access, and are reported beside.

Some negatives are negative only for their own rule's narrower pattern and
are credentials of a sibling format of the same service: the negatives of
the Slack bot/user/legacy-token rules are Slack tokens of the other kinds,
those of the Vault token rules are Vault tokens of the other prefixes and
lengths, those of the Twitch rule are stream keys (read from the set's
examples; ``SIBLING_FORMATS``). Flagging them is right for a scanner that
inventories credentials, so the negative rate is also reported without them.

Systems, in this one run:

* ``ours``: ``daemon.scan.detect.Detector(use_ner=False)`` as shipped: the
  project's recognizers plus the catalogue dependency (kingfisher) behind
  ``daemon.scan.recognizers.catalogue``;
* ``ours without the catalogue``: the same detector with the catalogue
  recognizer left out (the project's own recognizers alone: the baseline);
* ``kingfisher raw``: the library alone, every visible finding counted, no
  filter of ours (what adopting it bare would give).

Run: ``.venv/bin/python benchmarks/secret_quality.py [--misses]``. Prints
rule ids and counts only, never an example.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

DATA = (Path(__file__).resolve().parents[2] / "shared" / "data" / "secrets"
        / "noseyparker_examples.json")

Flag = Callable[[str], bool]

SIBLING_FORMATS = frozenset({
    "np.slack.2", "np.slack.4", "np.slack.6", "np.hashicorp.1", "np.hashicorp.2",
    "np.hashicorp.3", "np.hashicorp.4", "np.hashicorp.5", "np.hashicorp.6", "np.twitch.1"})
"""Rules whose negative examples are credentials of a sibling format."""


@dataclass(frozen=True)
class Example:
    rule: str
    categories: frozenset[str]
    text: str
    positive: bool


def load(path: Path) -> list[Example]:
    rules = json.loads(path.read_text(encoding="utf-8"))["rules"]
    out = []
    for r in rules:
        cats = frozenset(r.get("categories") or ())
        out += [Example(r["id"], cats, e, True) for e in r.get("examples") or ()]
        out += [Example(r["id"], cats, e, False) for e in r.get("negative_examples") or ()]
    return out


def is_identifier(ex: Example) -> bool:
    """A rule that names something without being a credential."""
    return "identifier" in ex.categories and "secret" not in ex.categories


def ours(with_catalogue: bool) -> Flag:
    from daemon.scan.detect import Detector, default_recognizers
    from scratchwarden.entities import SECRET_TYPES

    recognizers = [r for r in default_recognizers()
                   if with_catalogue or not type(r).__name__.startswith("Catalogue")]
    detector = Detector(use_ner=False, recognizers=recognizers)

    def flag(text: str) -> bool:
        return any(f.entity_type in SECRET_TYPES for f in detector.detect(text))

    return flag


def kingfisher_raw() -> Flag:
    from kingfisher_sdk import Rules, Scanner

    scanner = Scanner(Rules(cache=False), redact=True)

    def flag(text: str) -> bool:
        return any(f.visible for f in scanner.scan(text))

    return flag


@dataclass
class Result:
    name: str
    seconds: float
    flagged: dict[int, bool]


def run(name: str, flag: Flag, examples: Sequence[Example]) -> Result:
    t0 = time.monotonic()
    flagged = {i: flag(ex.text) for i, ex in enumerate(examples)}
    return Result(name, time.monotonic() - t0, flagged)


def rate(res: Result, examples: Sequence[Example], keep: Callable[[Example], bool]
         ) -> tuple[int, int]:
    idx = [i for i, ex in enumerate(examples) if keep(ex)]
    return sum(res.flagged[i] for i in idx), len(idx)


def report(results: Sequence[Result], examples: Sequence[Example]) -> str:
    rows: list[tuple[str, Callable[[Example], bool]]] = [
        ("recall, all positives", lambda e: e.positive),
        ("recall, credentials (not identifier-only rules)",
         lambda e: e.positive and not is_identifier(e)),
        ("recall, identifier-only rules", lambda e: e.positive and is_identifier(e)),
        ("negatives flagged", lambda e: not e.positive),
        ("negatives flagged, sibling-format credentials out",
         lambda e: not e.positive and e.rule not in SIBLING_FORMATS),
    ]
    width = max(len(r.name) for r in results)
    lines = [f"{'':<48} " + " | ".join(f"{r.name:>{width}}" for r in results)]
    for label, keep in rows:
        cells = []
        for r in results:
            hit, n = rate(r, examples, keep)
            cells.append(f"{hit:>4}/{n:<4} {hit / max(n, 1):5.3f}".rjust(width))
        lines.append(f"{label:<48} " + " | ".join(cells))
    lines.append(f"{'seconds (all examples)':<48} "
                 + " | ".join(f"{r.seconds:>{width}.2f}" for r in results))
    return "\n".join(lines)


def misses(res: Result, examples: Sequence[Example]) -> str:
    missed = Counter(ex.rule for i, ex in enumerate(examples)
                     if ex.positive and not res.flagged[i])
    wrong = Counter(ex.rule for i, ex in enumerate(examples)
                    if not ex.positive and res.flagged[i])
    return (f"{res.name}: missed positives by rule: {dict(missed.most_common())}\n"
            f"{res.name}: flagged negatives by rule: {dict(wrong.most_common())}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--misses", action="store_true", help="list missed rules (ids only)")
    ap.add_argument("--no-raw", action="store_true", help="skip the raw library run")
    args = ap.parse_args(argv)
    examples = load(args.data)
    systems: list[tuple[str, Callable[[], Flag]]] = [
        ("ours", lambda: ours(True)),
        ("ours without catalogue", lambda: ours(False)),
    ]
    if not args.no_raw:
        systems.append(("kingfisher raw", kingfisher_raw))
    results = []
    for name, make in systems:
        t0 = time.monotonic()
        flag = make()
        print(f"{name}: built in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        results.append(run(name, flag, examples))
    n_pos = sum(e.positive for e in examples)
    print(f"examples: {n_pos} positive, {len(examples) - n_pos} negative, "
          f"{len({e.rule for e in examples})} rules\n")
    print(report(results, examples))
    if args.misses:
        for r in results:
            print("\n" + misses(r, examples))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    raise SystemExit(main())
