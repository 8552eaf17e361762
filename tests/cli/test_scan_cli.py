"""``scratchwarden scan`` and ``inventory export`` as a user runs them: real
Presidio with the real NER model, real files, a real SQLite inventory."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "examples" / "scratch"

pytestmark = pytest.mark.slow


def sw(*args: str, state: Path, timeout: float = 600,
       check_codes: tuple[int, ...] = (0, 1)) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(state / "home"), PYTHONWARNINGS="ignore")
    p = subprocess.run([sys.executable, "-m", "daemon", "--state-dir", str(state / "st"),
                        *args], capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=REPO)
    assert p.returncode in check_codes, f"exit {p.returncode}: {p.stderr[-2000:]}"
    return p


def jsonl(p: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    return {str(r["path"]): r for r in rows}


def test_sample_tree_scans_into_inventory_and_exports(tmp_path: Path) -> None:
    p = sw("scan", "--format", "jsonl", str(SAMPLES), state=tmp_path)
    assert p.returncode == 1  # the samples hold (fake) PII
    rows = jsonl(p)
    files = [f for f in SAMPLES.rglob("*") if f.is_file()]
    assert set(rows) == {str(f) for f in files}
    for r in rows.values():
        assert set(r) >= {"path", "status", "reason", "size", "mime", "findings"}
        assert r["status"] in ("scanned", "unscannable", "skipped")
        for f in r["findings"]:  # type: ignore[union-attr]
            assert set(f) >= {"entity_type", "start", "end", "score"}
            assert "value" not in f and "text" not in f
    found = {f["entity_type"] for r in rows.values() for f in r["findings"]}  # type: ignore[union-attr,index]
    assert {"EMAIL_ADDRESS", "PERSON", "AWS_ACCESS_KEY_ID"} <= found

    out = sw("inventory", "export", "--format", "csv", state=tmp_path)
    table = list(csv.DictReader(io.StringIO(out.stdout.lstrip("\ufeff"))))
    assert {r["path"] for r in table} == {str(f) for f in files}
    js = sw("inventory", "export", "--format", "jsonl", state=tmp_path)
    assert len(js.stdout.splitlines()) == len(files)


def test_plain_text_offsets_point_into_the_decoded_text(tmp_path: Path) -> None:
    f = tmp_path / "t" / "note.txt"
    f.parent.mkdir()
    text = "Ünïcode first. Write to maria.lopez@example.com today.\n"
    f.write_text(text, encoding="utf-8")
    rows = jsonl(sw("scan", "--no-inventory", "--format", "jsonl", str(f), state=tmp_path))
    [email] = [x for x in rows[str(f)]["findings"] if x["entity_type"] == "EMAIL_ADDRESS"]  # type: ignore[union-attr,index]
    assert text[email["start"]:email["end"]] == "maria.lopez@example.com"


def test_exit_codes(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    (clean / "readme.txt").write_text("Nothing personal here, just build notes.\n")
    assert sw("scan", "--no-inventory", str(clean), state=tmp_path).returncode == 0
    p = sw("scan", "--no-inventory", str(tmp_path / "absent"), state=tmp_path,
           check_codes=(2,))
    assert "no such file" in p.stderr
    p = sw("scan", "--inventory", "postgresql+psycopg://nobody@127.0.0.1:1/none",
           str(clean), state=tmp_path, check_codes=(2,))
    assert "Traceback" not in p.stderr and "127.0.0.1:1" in p.stderr


CANARIES = {
    "EMAIL": "zq.canary.4471@example.org",
    "SSN": "219-09-9999",
    "CARD": "4532015112830366",
    "AWS": "AKIAQ7CANARY4ZZT5XYW",
    "PHONE": "(415) 555-0187",
}


def _canary_tree(root: Path) -> None:
    root.mkdir(parents=True)
    c = CANARIES
    (root / "notes.txt").write_text(
        f"Customer Hannah Whitfield, email {c['EMAIL']}, SSN {c['SSN']}, "
        f"card {c['CARD']}, phone {c['PHONE']}.\naws_access_key_id = {c['AWS']}\n")
    (root / "cache.json").write_text(json.dumps(
        {"user": {"email": c["EMAIL"], "ssn": c["SSN"], "phone": c["PHONE"]}}))
    (root / "export.csv").write_text(
        f"name,email,card\nHannah Whitfield,{c['EMAIL']},{c['CARD']}\n")
    with zipfile.ZipFile(root / "bundle.zip", "w") as z:
        z.writestr("inner/notes.txt", f"ssn: {c['SSN']} mail {c['EMAIL']}\n")
    (root / "mail.eml").write_text(
        f"From: Hannah Whitfield <{c['EMAIL']}>\nTo: support@example.com\nSubject: card\n\n"
        f"My card is {c['CARD']} and my SSN is {c['SSN']}.\n")


def test_no_detected_value_in_output_inventory_export_or_logs(tmp_path: Path) -> None:
    """Invariant 1: plant canary values, then search every byte we produced."""
    tree = tmp_path / "tree"
    _canary_tree(tree)
    scan = sw("-vv", "scan", "--format", "jsonl", str(tree), state=tmp_path)
    table = sw("-vv", "scan", str(tree), state=tmp_path)
    export_csv = sw("inventory", "export", "--format", "csv", state=tmp_path)
    export_jsonl = sw("inventory", "export", "--format", "jsonl", state=tmp_path)
    # the scan really found them (otherwise the test proves nothing)
    types = {f["entity_type"] for r in jsonl(scan).values() for f in r["findings"]}  # type: ignore[union-attr,index]
    assert {"EMAIL_ADDRESS", "US_SSN", "CREDIT_CARD", "AWS_ACCESS_KEY_ID"} <= types
    blobs = {"jsonl": scan.stdout, "stderr": scan.stderr + table.stderr, "table": table.stdout,
             "csv": export_csv.stdout, "export-jsonl": export_jsonl.stdout}
    for db in (tmp_path / "st").glob("inventory.db*"):
        blobs[db.name] = db.read_bytes().decode("latin-1")
    for name, blob in blobs.items():
        for kind, value in CANARIES.items():
            digits = "".join(ch for ch in value if ch.isalnum())
            assert value not in blob, f"{kind} canary leaked into {name}"
            assert digits not in blob, f"{kind} canary (normalised) leaked into {name}"


def test_hostile_files_end_as_recorded_statuses(tmp_path: Path) -> None:
    """A zip bomb, a 200 MB file, invalid UTF-8, a symlink to /etc/passwd, a
    FIFO (and more) in a copy of the sample tree: each ends with a status and a
    reason, in bounded time, never a crash or a hang."""
    tree = tmp_path / "scratch"
    shutil.copytree(SAMPLES, tree)
    hostile = tree / "acme" / "sessions" / "hostile"
    subprocess.run([sys.executable, str(REPO / "examples" / "make_hostile.py"), str(hostile),
                    "--big"], check=True, timeout=300)
    p = sw("scan", "--format", "jsonl", "--file-timeout", "20", str(tree), state=tmp_path,
           timeout=900)
    rows = jsonl(p)
    expected = {"bomb-10g.zip": ("scanned", "partial: 10 binary member(s) not scanned"),
                "bomb-text-10g.zip": ("unscannable", "zip-bomb"),
                "bomb-nested.zip": ("unscannable", None),
                "passwd-link": ("skipped", "symlink"),
                "fifo": ("skipped", "fifo"),
                "socket": ("skipped", "socket")}
    for name, (status, reason) in expected.items():
        r = rows[str(hostile / name)]
        assert r["status"] == status, name
        if reason:
            assert r["reason"] == reason, name
    assert rows[str(hostile / "invalid-utf8.txt")]["status"] == "scanned"
    big = rows[str(hostile / "big-200m.txt")]
    assert (big["status"], big["reason"]) in (("scanned", None), ("unscannable", "scan-timeout"))
    for r in rows.values():
        if r["status"] != "scanned":
            assert r["reason"], r["path"]
    # every bomb is either refused or only partly read, never silently clean
    for name in ("bomb-10g.zip", "bomb-text-10g.zip", "bomb-nested.zip", "bomb-1g.gz",
                 "bomb-text-1g.gz", "bomb-nested.gz"):
        assert rows[str(hostile / name)]["reason"], name
    inv = sw("inventory", "export", "--format", "jsonl", state=tmp_path)
    assert len(inv.stdout.splitlines()) == len(rows)
