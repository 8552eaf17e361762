"""Positions in the file: for text formats read from the file itself, every
finding's line, column and offset point at the value in the file's decoded
text; documents and archive members keep their locators and get none.

Checked against the file itself: the text at ``offset`` is the planted value
(synthetic: example.org mail, SSNs from the never-issued 9xx/000 ranges are
not used because the recognizer rejects them, so test numbers are random
valid-shaped ones), and line/column agree with the offset."""

from __future__ import annotations

import gzip
import json
import os
import random
from pathlib import Path

import pytest

from daemon.platform.fingerprint import Fingerprinter
from daemon.scan.detect import Detector
from daemon.scan.extract.positions import csv_cell_spans, json_scalar_tokens
from daemon.scan.pipeline import Scanner
from scratchwarden.observations import Finding

RNG = random.Random(20261207)
MAIL = "jane.roe@example.org"
SSN = "536-22-1490"


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    detector = Detector(use_ner=False, entities=["EMAIL_ADDRESS", "US_SSN"])
    return Scanner(detector=detector, fingerprinter=Fingerprinter(os.urandom(32)), cache=None)


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _check(path: Path, findings: tuple[Finding, ...], values: dict[str, str]) -> int:
    """Every positioned finding points at its planted value; returns how many."""
    with open(path, encoding="utf-8", newline="") as fh:  # the decoded text, \r kept
        text = fh.read()
    n = 0
    for f in findings:
        if f.entity_type not in values:
            continue
        assert f.offset is not None and f.line is not None, (path.name, f.locator)
        value = values[f.entity_type]
        assert text[f.offset:f.offset + len(value)] == value, (path.name, f.locator)
        assert (f.line, f.column) == _line_col(text, f.offset), (path.name, f.locator)
        n += 1
    return n


def test_plain_text_across_streamed_windows(scanner: Scanner, tmp_path: Path) -> None:
    """A file of several 100k-char windows: line and column carry across."""
    lines = []
    for i in range(12000):
        filler = "".join(RNG.choice("abcdefgh ") for _ in range(RNG.randint(0, 40)))
        lines.append(f"{filler} {MAIL} {filler}" if i % 700 == 3 else filler)
    path = tmp_path / "notes.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    obs = scanner.scan(str(path))
    assert len(path.read_text()) > 200_000
    assert _check(path, obs.findings, {"EMAIL_ADDRESS": MAIL}) == 18


def test_one_long_line_across_windows(scanner: Scanner, tmp_path: Path) -> None:
    """No newline at all: the column carries across windows."""
    path = tmp_path / "blob.txt"
    path.write_text("x" * 150_001 + f" {MAIL} " + "y" * 120_000 + f" {MAIL}", encoding="utf-8")
    obs = scanner.scan(str(path))
    assert _check(path, obs.findings, {"EMAIL_ADDRESS": MAIL}) == 2
    assert {f.line for f in obs.findings} == {1}


def test_json_with_escapes_and_nesting(scanner: Scanner, tmp_path: Path) -> None:
    doc = {"users": [{"name": "x\ty", "email": MAIL}, {"bio": "caf\u00e9 \"q\"\n ssn " + SSN}],
           "dup": "a", "weird key": [1, 2.5, {"ssn": SSN}]}
    path = tmp_path / "cache.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    obs = scanner.scan(str(path))
    assert _check(path, obs.findings, {"EMAIL_ADDRESS": MAIL, "US_SSN": SSN}) == 3
    assert {f.locator for f in obs.findings} >= {"$.users[0].email", "$.users[1].bio",
                                                  '$["weird key"][2].ssn'}


def test_ndjson_lines(scanner: Scanner, tmp_path: Path) -> None:
    rows = [json.dumps({"i": i, "mail": MAIL if i % 3 == 0 else "none", "n": [SSN]})
            for i in range(30)]
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    obs = scanner.scan(str(path))
    assert _check(path, obs.findings, {"EMAIL_ADDRESS": MAIL, "US_SSN": SSN}) == 40


def test_csv_quoted_multiline_and_tsv(scanner: Scanner, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(f'name,email,note\r\nJane,{MAIL},"multi\nline {SSN}"\r\n'
                    f'"Roe, J","{MAIL}",plain\r\n', encoding="utf-8", newline="")
    obs = scanner.scan(str(path))
    assert _check(path, obs.findings, {"EMAIL_ADDRESS": MAIL, "US_SSN": SSN}) == 3
    tsv = tmp_path / "export.tsv"
    tsv.write_text(f"name\temail\tssn\nJane\t{MAIL}\t{SSN}\n", encoding="utf-8")
    assert _check(tsv, scanner.scan(str(tsv)).findings,
                  {"EMAIL_ADDRESS": MAIL, "US_SSN": SSN}) == 2


def test_csv_cell_with_doubled_quotes_has_no_position(scanner: Scanner,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(f'name,note\nJane,"said ""hi"" {MAIL}"\n', encoding="utf-8")
    (f,) = [f for f in scanner.scan(str(path)).findings if f.entity_type == "EMAIL_ADDRESS"]
    assert f.locator == "row=2;col=note" and f.line is None and f.offset is None


def test_archive_members_keep_their_locator_only(scanner: Scanner, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(gzip.compress(f"x\n{MAIL}\n".encode()))
    (f,) = [f for f in scanner.scan(str(path)).findings if f.entity_type == "EMAIL_ADDRESS"]
    assert f.locator is not None and f.line is None


def test_json_tokens_match_the_parser_paths() -> None:
    text = '{"a": [1, "x", {"b c": -2e3}], "a2": {"k": "v\\u00e9"}, "a": "last"}'
    tokens = json_scalar_tokens(text)
    assert text[slice(*tokens["$.a"])] == '"last"'           # the last duplicate wins
    assert text[slice(*tokens['$.a2.k'])] == '"v\\u00e9"'
    assert "$.a[0]" in tokens and '$.a[2]["b c"]' in tokens


@pytest.mark.parametrize("raw,cells", [
    ("a,b,c\n", ["a", "b", "c"]),
    ('"a,1",b,\r\n', ["a,1", "b", ""]),
    ('x,"multi\nline"\n', ["x", "multi\nline"]),
])
def test_csv_cell_spans(raw: str, cells: list[str]) -> None:
    import csv

    (row,) = list(csv.reader(raw.splitlines(keepends=True)))
    assert row == cells
    spans = csv_cell_spans(raw, ",")
    assert spans is not None and [raw[s:e] for s, e in spans] == cells


def test_lines_output_names_the_place(tmp_path: Path) -> None:
    from daemon.cli.scan import finding_line

    f = Finding("US_SSN", 3, 14, 0.85, "UsSsnRecognizer", line=7, column=4, offset=90)
    assert finding_line("a.txt", f) == "a.txt:7:4: US_SSN 0.85 UsSsnRecognizer"
    g = Finding("US_SSN", 3, 14, 0.85, "UsSsnRecognizer", locator="page=2")
    assert finding_line("b.pdf", g) == "b.pdf: US_SSN 0.85 UsSsnRecognizer [page=2]"


def test_inventory_locations_keep_positions(tmp_path: Path) -> None:
    """The inventory's locations carry line, column and offset beside the
    locator (JSON column: no migration), and never a value."""
    from datetime import UTC, datetime

    from inventory.store import Recording, Store
    from scratchwarden.observations import FileObservation, FileStatus

    store = Store.open(f"sqlite:///{tmp_path / 'inv.db'}")
    try:
        f = Finding("EMAIL_ADDRESS", 41, 61, 1.0, "ColumnClassifier", locator="row=2;col=email",
                    fingerprint="a" * 64, line=2, column=10, offset=24)
        obs = FileObservation("/r/c.csv", FileStatus.SCANNED, size=96, sha256="1" * 64,
                              findings=(f,))
        store.record_many("n1", [Recording(obs, root="/r")], now=datetime.now(UTC))
        view = store.get_asset("n1", "/r/c.csv")
    finally:
        store.close()
    assert view is not None
    (loc,) = view.findings[0].locations
    assert (loc.locator, loc.line, loc.column, loc.offset) == ("row=2;col=email", 2, 10, 24)
