"""File-level quality: what policies decide on. Per file, does it hold
personal data, restricted data, secrets? Measured on realistic scratch trees.

A tree of agent sessions is generated from a seed (``--seed``): every file is
labeled with the classes it holds, by construction.

* personal: a mail thread, transcript, tool-call JSON, CSV export, agent log,
  meeting note or intake form of ``scratch_pii_set.py`` (Faker identities of
  eight locales);
* restricted: the same, with an SSN, a payment card or an IBAN planted
  (a third of them), or an extracted bank form;
* secrets: ``.env`` files, shell history, configs, code and JSON with one
  generated credential of one of 14 families (cloud keys, service tokens, a
  private key, a password, a password hash, a JWT ...);
* none (the negatives, and most of a real tree): build logs, code, docs,
  metrics JSON, product CSVs, lock files, and hard look-alikes: documentation
  example keys (``AKIAIOSFODNN7EXAMPLE``), placeholders (``<your-api-key>``,
  ``${DB_PASSWORD}``), hashes, UUIDs, base64 blobs, capitalised product and
  place names without a person.

A file is flagged for a class when the scan pipeline reports a finding of a
type whose catalogue class is that class (``scratchwarden.entities``) at or
above the class's score: personal 0.6 and restricted 0.5 (the shipped example
policy's ``min_score``), secrets 0.5 (``scan``'s default exit threshold).
Recall = flagged files holding the class / files holding it; false-positive
rate = flagged files not holding it / files not holding it.

Run: ``.venv/bin/python benchmarks/classification.py [--sessions N] [--jobs N]``.
Prints counts and rates (and, with ``--errors``, the file names and the
finding types of errors), never a value.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import random
import string
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratch_pii_set import KINDS, LOCALES, Doc, Person, csv_export  # noqa: E402

CLASSES = ("personal", "restricted", "secrets")
MIN_SCORE = {"personal": 0.6, "restricted": 0.5, "secrets": 0.5}
ALNUM = string.ascii_letters + string.digits


@dataclass
class Planted:
    name: str
    text: str
    classes: frozenset[str]
    kind: str


@dataclass
class Tree:
    files: list[Planted] = field(default_factory=list)


# --------------------------------------------------------------------------- secrets


def _rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _github(rng: random.Random) -> str:
    body = _rand(rng, 30)
    crc, digits = binascii.crc32(body.encode()), ""
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    while crc:
        crc, r = divmod(crc, 62)
        digits = chars[r] + digits
    return "ghp_" + body + digits.rjust(6, "0")


def _pem(rng: random.Random) -> str:
    body = base64.b64encode(rng.randbytes(900)).decode()
    rows = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN RSA PRIVATE KEY-----\n{rows}\n-----END RSA PRIVATE KEY-----\n"


def _jwt(rng: random.Random) -> str:
    def seg(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
    return f"{seg({'alg': 'HS256', 'typ': 'JWT'})}.{seg({'sub': _rand(rng, 8)})}." \
           f"{_rand(rng, 43, ALNUM + '-_')}"


SECRET_LINES: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"AWS_ACCESS_KEY_ID=AKIA{_rand(r, 16, string.ascii_uppercase + '234567')}\n"
              f"AWS_SECRET_ACCESS_KEY={_rand(r, 40, ALNUM + '/+')}\n",
    lambda r: f"GITHUB_TOKEN={_github(r)}\n",
    lambda r: f"SLACK_BOT_TOKEN=xoxb-{_rand(r, 12, string.digits)}-"
              f"{_rand(r, 13, string.digits)}-{_rand(r, 24)}\n",
    lambda r: f"STRIPE_SECRET_KEY=sk_live_{_rand(r, 24)}\n",
    lambda r: _pem(r),
    lambda r: f"DATABASE_URL=postgres://app:{_rand(r, 14)}@db.internal:5432/app\n",
    lambda r: f'db:\n  user: app\n  password: "{_rand(r, 12)}!{_rand(r, 4)}"\n',
    lambda r: f"ANTHROPIC_API_KEY=sk-ant-api03-{_rand(r, 93, ALNUM + '_-')}AA\n",
    lambda r: f"OPENAI_API_KEY=sk-proj-{_rand(r, 48, ALNUM + '_-')}\n",
    lambda r: f"HF_TOKEN=hf_{_rand(r, 34)}\n",
    lambda r: f"export SENDGRID_API_KEY=SG.{_rand(r, 22, ALNUM + '_-')}."
              f"{_rand(r, 43, ALNUM + '_-')}\n",
    lambda r: f"session={_jwt(r)}\n",
    lambda r: (f"admin:$6${_rand(r, 8, ALNUM + './')}${_rand(r, 86, ALNUM + './')}"
               ":19000:0:99999::\n"),
    lambda r: f"curl -H 'Authorization: Bearer {_rand(r, 40, ALNUM + '-_')}' https://api.x/v1\n",
)

SECRET_WRAPPERS: tuple[tuple[str, str, str], ...] = (
    ("config/.env", "# written by the agent\nAPP_ENV=production\n", "LOG_LEVEL=info\n"),
    ("notes/deploy-notes.md", "Deploy notes, pasted from the operator:\n\n```\n", "```\n"),
    ("scripts/run.sh", "#!/bin/sh\nset -eu\n", "exec ./app --serve\n"),
    ("tool-cache/vault_read.json", '{"tool": "vault_read", "output": ', "}\n"),
)


def secret_file(rng: random.Random, i: int) -> Planted:
    name, head, tail = rng.choice(SECRET_WRAPPERS)
    line = rng.choice(SECRET_LINES)(rng)
    body = json.dumps(line) if name.endswith(".json") else line
    return Planted(f"{i:04d}-{name.replace('/', '-')}", head + body + tail,
                   frozenset({"secrets"}), "secret")


# --------------------------------------------------------------------------- negatives

NEGATIVES: tuple[Callable[[random.Random], tuple[str, str]], ...] = (
    lambda r: ("logs/build.log", "".join(
        f"[{i:04d}] compiling module {_rand(r, 6).lower()}.rs ... ok ({r.randint(10, 900)} ms)\n"
        for i in range(40)) + "Build finished in 4m12s; 312 tests passed.\n"),
    lambda r: ("src/util.py", "import os\n\n\ndef load_settings():\n"
               "    password = os.environ[\"DB_PASSWORD\"]\n"
               "    api_key = settings.API_KEY\n    token = get_token()\n"
               "    return {\"password\": password, \"api_key\": api_key}\n"),
    lambda r: ("docs/aws-setup.md", "Configure the CLI with your own keys, e.g. the "
               "documentation example:\n\n    aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
               "    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"),
    lambda r: ("config/app.example.yaml", "db:\n  password: ${DB_PASSWORD}\n"
               "api:\n  key: <your-api-key>\n  token: changeme\n"),
    lambda r: ("tool-cache/metrics.json", json.dumps(
        {"run": str(uuid.UUID(int=r.getrandbits(128))), "commit": f"{r.getrandbits(160):040x}",
         "latency_ms": [r.randint(1, 500) for _ in range(20)], "status": "ok"}, indent=2)),
    lambda r: ("exports/products.csv", "sku,product,category,price\n" + "".join(
        f"{_rand(r, 8).upper()},{r.choice(['Blue Widget', 'Garden Hose', 'Desk Lamp'])} "
        f"{r.randint(1, 9)}00,{r.choice(['Home', 'Garden', 'Office'])},"
        f"{r.randint(1, 99)}.{r.randint(0, 99):02d}\n" for _ in range(30))),
    lambda r: ("package-lock.json", json.dumps({"packages": {
        f"node_modules/{_rand(r, 6).lower()}": {
            "version": f"{r.randint(0, 9)}.{r.randint(0, 20)}.{r.randint(0, 9)}",
            "integrity": "sha512-" + base64.b64encode(r.randbytes(64)).decode()}
        for _ in range(15)}}, indent=2)),
    lambda r: ("cache/thumb.b64", base64.b64encode(r.randbytes(3000)).decode() + "\n"),
    lambda r: ("src/service.py", "class CustomerService:\n    \"\"\"Looks customers up by "
               "e-mail.\"\"\"\n\n    def get_by_email(self, email: str) -> Customer:\n"
               "        return self.repo.find(email=email)\n\n    def rename(self, customer, "
               "first_name, last_name):\n        customer.full_name = f\"{first_name} "
               "{last_name}\"\n"),
    lambda r: ("config/pipeline.json", json.dumps({
        "name": "Nightly Build", "owner": "platform-team", "schedule": "0 2 * * *",
        "steps": [{"name": "Run Unit Tests"}, {"name": "Publish Docker Image"}]}, indent=2)),
    lambda r: ("logs/access.log", "".join(
        f"lb-{r.randint(1, 4):02d} - anonymous [21/Nov/2026:10:{r.randint(10, 59)}:00] "
        f"\"GET /health HTTP/1.1\" 200 {r.randint(10, 99)}\n" for _ in range(20))),
    lambda r: ("notes/release.md", "Release notes\n\nThe Garden Hose 300 now ships from the "
               "Springfield warehouse. Support for Windows Server was added; the Paris and "
               "Berlin regions are live. See the changelog for details.\n"),
)


def negative_file(rng: random.Random, i: int) -> Planted:
    name, text = rng.choice(NEGATIVES)(rng)
    return Planted(f"{i:04d}-{name.replace('/', '-')}", text, frozenset(), "none")


# --------------------------------------------------------------------------- personal


def personal_file(rng: random.Random, i: int, fakers: dict[str, object]) -> Planted:
    loc = rng.choice(LOCALES)
    a, b = (Person(fakers[loc], rng, loc) for _ in range(2))
    if i % 7 == 6:
        doc = csv_export(rng, [Person(fakers[loc], rng, loc) for _ in range(rng.randint(3, 9))])
    elif i % 7 == 5:  # the hard case: one full name in a sentence, nothing else personal
        doc = Doc("notes/todo.txt")
        doc.add(rng.choice(["Reminder: call back ", "TODO: send the quote to ",
                            "Waiting on a signature from "]))
        doc.ent("PERSON", a.name).add(rng.choice([" before Friday.\n", " (see thread).\n"]))
    else:
        doc = rng.choice(KINDS)(rng, a, b)
        if rng.random() < 1 / 3 and not doc.file_name.endswith(".json"):
            doc.add("\nRefund to: ").ent("IBAN_CODE", a.iban).add("\n")
    classes = {"personal"}
    if {s["entity_type"] for s in doc.spans} & {"IBAN_CODE", "CREDIT_CARD", "US_SSN"}:
        classes.add("restricted")
    return Planted(f"{i:04d}-{doc.file_name.replace('/', '-')}", "".join(doc.parts),
                   frozenset(classes), "personal")


def generate(seed: int, sessions: int) -> Tree:
    from faker import Faker

    rng = random.Random(seed)
    fakers: dict[str, object] = {}
    for k, loc in enumerate(LOCALES):
        fakers[loc] = Faker(loc)
        fakers[loc].seed_instance(seed + k)  # type: ignore[attr-defined]
    tree = Tree()
    i = 0
    for _ in range(sessions):
        for maker in (["p"] * 6 + ["s"] * 3 + ["n"] * 7):
            if maker == "p":
                tree.files.append(personal_file(rng, i, fakers))
            elif maker == "s":
                tree.files.append(secret_file(rng, i))
            else:
                tree.files.append(negative_file(rng, i))
            i += 1
    return tree


# --------------------------------------------------------------------------- scoring


def flags(findings: list[tuple[str, float]]) -> frozenset[str]:
    from scratchwarden.entities import ENTITY_TYPES

    out = set()
    for kind, score in findings:
        entry = ENTITY_TYPES.get(kind)
        cls = entry.data_class if entry is not None else None
        if cls in MIN_SCORE and score >= MIN_SCORE[cls]:
            out.add(cls)
    return frozenset(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--sessions", type=int, default=25)
    ap.add_argument("--errors", action="store_true", help="list misclassified files")
    args = ap.parse_args(argv)

    from daemon.platform.fingerprint import Fingerprinter
    from daemon.scan.detect import Detector
    from daemon.scan.pipeline import Scanner

    tree = generate(args.seed, args.sessions)
    scanner = Scanner(detector=Detector(), fingerprinter=Fingerprinter(os.urandom(32)),
                      cache=None)
    results: list[tuple[Planted, frozenset[str], list[str]]] = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sw-class-") as tmp:
        for n, f in enumerate(tree.files):
            path = Path(tmp) / f"session-{n // 16:02d}" / f.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f.text, encoding="utf-8")
            obs = scanner.scan(str(path))
            if obs.status.value != "scanned":
                raise RuntimeError(f"not scanned: {f.name}: {obs.reason}")
            found = [(x.entity_type, x.score) for x in obs.findings]
            results.append((f, flags(found), sorted({k for k, _ in found})))
    seconds = time.monotonic() - t0
    print(f"files: {len(results)} in {args.sessions} sessions (seed {args.seed}); "
          f"scanned in {seconds:.1f} s, one process, NER on")
    print(f"{'class':<12} {'files with':>10} {'recall':>8} {'files without':>14} {'FP rate':>8}")
    for cls in CLASSES:
        pos = [(f, got) for f, got, _ in results if cls in f.classes]
        neg = [(f, got) for f, got, _ in results if cls not in f.classes]
        tp = sum(cls in got for _, got in pos)
        fp = sum(cls in got for _, got in neg)
        print(f"{cls:<12} {len(pos):>10} {tp / max(len(pos), 1):>8.3f} {len(neg):>14} "
              f"{fp / max(len(neg), 1):>8.3f}")
    if args.errors:
        for f, got, kinds in results:
            if got != f.classes:
                print(f"  {f.name}: labeled {sorted(f.classes)}, flagged {sorted(got)}; "
                      f"types {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
