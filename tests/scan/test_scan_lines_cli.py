"""``scratchwarden scan --format lines``: one ``path:line:col: TYPE`` line per
finding (the way secret scanners print them), never a value; and the jsonl
output carries the same positions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

MAIL = "jane.roe@example.org"


def _scan(tmp_path: Path, fmt: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon", "--state-dir", str(tmp_path / "st"), "scan",
         "--no-inventory", "--patterns-only", "--format", fmt, *map(str, paths)],
        capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_lines_and_jsonl_positions(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(f"first line\n  mail {MAIL} now\n", encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text(f"name,email\nJane Roe,{MAIL}\n", encoding="utf-8")
    out = _scan(tmp_path, "lines", notes, export)
    assert out.returncode == 1, out.stderr[-2000:]           # findings: exit 1
    lines = out.stdout.splitlines()
    assert f"{notes}:2:8: EMAIL_ADDRESS 1.00 EmailRecognizer" in lines
    assert f"{export}:2:10: EMAIL_ADDRESS 0.90 ColumnClassifier" in lines
    assert any(x.startswith(f"{export}:2:1: PERSON ") for x in lines)
    assert MAIL not in out.stdout and MAIL not in out.stderr
    rows = [json.loads(x) for x in _scan(tmp_path, "jsonl", export).stdout.splitlines()]
    (mail,) = [f for f in rows[0]["findings"] if f["entity_type"] == "EMAIL_ADDRESS"]
    assert (mail["line"], mail["column"], mail["offset"], mail["locator"]) == \
        (2, 10, 20, "row=2;col=email")
