"""The auditor's export: CSV that a spreadsheet opens as is and that parses
back, formula injection neutralised, JSONL one object per asset, streamed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from inventory.export import COLUMNS, csv_cell, export
from inventory.store import Store
from scratchwarden.errors import InventoryError
from scratchwarden.observations import FileObservation, FileStatus, Finding

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
FP = "c" * 64
NASTY = ["=HYPERLINK(\"http://evil\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
         "\tx", "naïve, \"quoted\"\nmultiline"]


def populate(store: Store) -> None:
    ssn = Finding("US_SSN", 0, 11, 0.85, "UsSsnRecognizer", fingerprint=FP)
    mail = Finding("EMAIL_ADDRESS", 20, 37, 1.0, "EmailRecognizer")
    for i, name in enumerate(NASTY):
        obs = FileObservation(f"/r/{i}/{name}", FileStatus.SCANNED, size=i, sha256="1" * 64,
                              findings=(ssn, ssn, mail))
        store.record_observation("n1", "/r", obs, now=T0, owner=name, session="=s1",
                                 labels={"tenant": "=acme"})
    store.record_observation("n1", "/r", FileObservation("/r/big", FileStatus.UNSCANNABLE,
                             reason="too-large"), now=T0)
    store.set_decision("n1", "/r/big", rule="everything-else",
                       deadline=T0 + timedelta(days=7), policy_revision="abc", now=T0)
    store.mark_deleted("n1", "/r/0/" + NASTY[0], now=T0, reason="retention")
    store.record_observation("n2", "/r", FileObservation("/r/other", FileStatus.SCANNED),
                             now=T0)


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def test_csv_parses_back_with_every_asset_and_column(store: Store) -> None:
    populate(store)
    out = io.StringIO(newline="")
    assert export(store, "csv", out, node="n1") == len(NASTY) + 1
    text = out.getvalue()
    assert "\r\n" in text
    rows = read_csv(text)
    assert list(rows[0]) == list(COLUMNS)
    assert len(rows) == len(NASTY) + 1
    first = rows[0]
    assert first["status"] == "deleted" and first["deleted_reason"] == "retention"
    assert first["entity_counts"] == "EMAIL_ADDRESS:1;US_SSN:2"
    assert first["classification"] == "EMAIL_ADDRESS,US_SSN"
    assert first["sensitivity"] == "restricted"
    assert first["first_seen"] == "2026-11-22T12:00:00+00:00"
    big = rows[-1]
    assert (big["status"], big["reason"], big["sensitivity"]) == ("unscannable", "too-large", "")
    assert (big["rule"], big["deadline"]) == ("everything-else", "2026-11-29T12:00:00+00:00")


def test_csv_neutralises_formulas(store: Store) -> None:
    populate(store)
    out = io.StringIO(newline="")
    export(store, "csv", out, node="n1")
    rows = read_csv(out.getvalue())
    owners = [r["owner"] for r in rows[:len(NASTY)]]
    assert owners == ["'" + n if n[0] in "=+-@\t" else n for n in NASTY]
    assert all(r["session"] == "'=s1" for r in rows[:len(NASTY)])
    assert rows[1]["path"] == "/r/1/" + NASTY[1]  # a path starts with '/': left as is
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize("value,shown", [("=1+1", "'=1+1"), ("-1", "'-1"), ("a=b", "a=b"),
                                         (None, ""), (3, "3"), ({"k": "v"}, '{"k": "v"}')])
def test_csv_cell(value: object, shown: str) -> None:
    assert csv_cell(value) == shown


def test_jsonl_is_one_object_per_asset_without_fingerprints(store: Store) -> None:
    populate(store)
    out = io.StringIO()
    assert export(store, "jsonl", out) == len(NASTY) + 2
    lines = out.getvalue().splitlines()
    objs = [json.loads(line) for line in lines]
    assert {o["node"] for o in objs} == {"n1", "n2"}
    one = objs[1]
    assert one["owner"] == NASTY[1]  # JSON is data, no escaping needed
    assert one["entity_counts"] == {"EMAIL_ADDRESS": 1, "US_SSN": 2}
    assert one["findings"][1] == {"entity_type": "US_SSN", "count": 2, "max_score": 0.85}
    assert FP not in out.getvalue()


def test_export_streams_in_pages(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inventory.store.PAGE", 2)
    populate(store)
    out = io.StringIO()
    live = len(NASTY) - 1 + 2  # one deleted; /r/big and n2's file
    assert export(store, "jsonl", out, include_deleted=False) == live
    assert len(out.getvalue().splitlines()) == live


def test_unknown_format_is_refused(store: Store) -> None:
    with pytest.raises(InventoryError, match="expected 'csv' or 'jsonl', found 'xml'"):
        export(store, "xml", io.StringIO())  # type: ignore[arg-type]
