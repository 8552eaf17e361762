"""Structured data by meaning: columns classified by name and sampled values,
validated cells reported by column, everything else still scanned.

All values synthetic: example.org mail, 555-01xx numbers, test card numbers,
the IBAN registry's example, random valid-shaped SSNs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from daemon.platform.fingerprint import Fingerprinter
from daemon.scan import columns as col
from daemon.scan.detect import Detector
from daemon.scan.extract import extract_file
from daemon.scan.pipeline import Scanner
from daemon.scan.segments import Limits, Segment

NAMES = ["Jane Roe", "John Smith", "Ana María López", "Wei Chen", "Olu Adeyemi",
         "Marta Nowak", "Liam O'Brien", "Sara de Vries"]


@pytest.mark.parametrize("name,values,entity", [
    ("email", [f"u{i}@example.org" for i in range(10)], "EMAIL_ADDRESS"),
    ("E-Mail Address", [f"u{i}@example.org" for i in range(3)], "EMAIL_ADDRESS"),
    ("customerName", NAMES, "PERSON"),
    ("name", NAMES, "PERSON"),                                 # ambiguous name, many values
    ("phone", ["(212) 555-0143", "+44 20 7946 0958", "212.555.0199"], "PHONE_NUMBER"),
    ("ssn", ["536-22-1490", "536221491"], "US_SSN"),
    ("ip_address", ["192.0.2.10", "2001:db8::1"], "IP_ADDRESS"),
    ("street_address", ["12 Example Street", "400 Main St Apt 3"], "ADDRESS"),
    ("date_of_birth", ["1980-04-02", "12/31/1975"], "DATE_OF_BIRTH"),
    ("city", ["Springfield", "Paris", "New York"], "LOCATION"),
    ("", ["4111 1111 1111 1111"] * 8, "CREDIT_CARD"),        # by values alone
])
def test_classify(name: str, values: list[str], entity: str) -> None:
    verdict = col.classify(name, values)
    assert verdict is not None and verdict.entity == entity


@pytest.mark.parametrize("name,values", [
    ("email", ["n/a", "unknown", "none", "x"]),                # the name says so, values don't
    ("name", ["Widget 3000", "Gadget 2", "Part 7", "Kit 9"]),  # product names with numbers
    ("state", ["active", "pending", "active", "done"]),        # a status, not a place
    ("name", ["Nightly Build", "Run Unit Tests"]),             # a pipeline, not a person
    ("", ["u@example.org"] * 3),                               # too few for values alone
    ("notes", ["call me", "later"]),                           # no rule
])
def test_not_classified(name: str, values: list[str]) -> None:
    assert col.classify(name, values) is None


def test_validators_are_exclusive() -> None:
    """A cell holding another kind of value fails its column's validator, so it
    is scanned in full."""
    assert not col.is_address("12 Main St, call (212) 555-0143")
    assert not col.is_address("12 Main St, jane.roe@example.org")
    assert not col.is_name("Jane Roe 536-22-1490")
    assert not col.is_name("jane.roe@example.org")


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(detector=Detector(use_ner=True),
                   fingerprinter=Fingerprinter(os.urandom(32)), cache=None)


def _export(tmp_path: Path) -> Path:
    rows = ["id,full_name,email,phone,address,notes"]
    for i, name in enumerate(NAMES * 3):
        addr = "12 Example Street" if i != 5 else '"12 Main St, call (212) 555-0177"'
        rows.append(f"{i},{name},u{i}@example.org,(212) 555-01{i:02d},{addr},ok")
    path = tmp_path / "customers.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_csv_cells_reported_by_column(scanner: Scanner, tmp_path: Path) -> None:
    obs = scanner.scan(str(_export(tmp_path)))
    by = {(f.locator, f.entity_type): f for f in obs.findings}
    assert by[("row=2;col=full_name", "PERSON")].recognizer == "ColumnClassifier"
    assert ("row=2;col=email", "EMAIL_ADDRESS") in by       # patterns still read the cell
    assert ("row=3;col=phone", "PHONE_NUMBER") in by
    # every name cell is found, including those NER alone misses
    persons = {f.locator for f in obs.findings if f.entity_type == "PERSON"}
    assert {f"row={i + 2};col=full_name" for i in range(len(NAMES) * 3)} <= persons
    # the cell that failed its validator was scanned: its phone is found
    assert ("row=7;col=address", "PHONE_NUMBER") in by
    assert all(f.fingerprint for f in obs.findings)


def test_patterns_still_read_validated_cells(scanner: Scanner, tmp_path: Path) -> None:
    """Only NER skips a validated cell: a value hidden inside one (an SSN in
    an e-mail's local part) is still found by the pattern recognizers."""
    rows = ["name,email,phone,street"] + [
        f"{n},u{i}@example.org,(212) 555-01{i:02d},{i + 1} Example Street"
        for i, n in enumerate(NAMES)]
    rows.append("Jane Roe,536-22-1490@example.org,536-22-1491,"
                "12 ghp_R4nd0mT0k3nV4lu3Xy2 Street")
    path = tmp_path / "hidden.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    obs = scanner.scan(str(path))
    got = {(f.locator, f.entity_type) for f in obs.findings}
    assert ("row=10;col=email", "US_SSN") in got     # not a plain e-mail: scanned in full
    assert ("row=10;col=phone", "US_SSN") in got     # a phone cell is still read by patterns
    assert ("row=10;col=street", "ADDRESS") not in {
        (f.locator, f.entity_type) for f in obs.findings if f.recognizer == "ColumnClassifier"}
    # the cells that validate are reported by column and read by no detector
    assert ("row=2;col=email", "EMAIL_ADDRESS") in got


def test_classified_cells_are_blanked_for_ner(tmp_path: Path) -> None:
    extraction = extract_file(_export(tmp_path))
    segs: list[Segment] = list(extraction.segments)  # type: ignore[call-overload]
    known = [k for s in segs for k in s.known]
    assert len(known) == 4 * len(NAMES) * 3 - 1  # the address cell holding a phone is not
    for s in segs:
        blank = s.ner_text()
        assert len(blank) == len(s.text)
        for start, end, _, _ in s.known:
            assert s.text[start:end].strip() and not blank[start:end].strip()


def test_switch_off_scans_every_cell(scanner: Scanner, tmp_path: Path) -> None:
    off = Scanner(detector=scanner.detector, fingerprinter=scanner.fingerprinter, cache=None,
                  limits=Limits(classify_columns=False))
    obs = off.scan(str(_export(tmp_path)))
    assert obs.findings and not [f for f in obs.findings if f.recognizer == "ColumnClassifier"]


def test_json_keys_by_meaning(scanner: Scanner, tmp_path: Path) -> None:
    doc = {"customers": [{"name": n, "contact": {"email": f"u{i}@example.org"}}
                         for i, n in enumerate(NAMES)]}
    path = tmp_path / "crm.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    obs = scanner.scan(str(path))
    got = {(f.locator, f.entity_type, f.recognizer) for f in obs.findings}
    persons = {loc for loc, kind, _ in got if kind == "PERSON"}
    assert {f"$.customers[{i}].name" for i in range(len(NAMES))} <= persons
    assert ("$.customers[0].contact.email", "EMAIL_ADDRESS") in {(a, b) for a, b, _ in got}
    assert all(f.line is not None for f in obs.findings)  # positions still point at the cell


def test_ndjson_columns_from_the_first_records(scanner: Scanner, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps({"customer_name": NAMES[i % 8], "n": i}) + "\n"
                            for i in range(100)), encoding="utf-8")
    obs = scanner.scan(str(path))
    names = [f for f in obs.findings if f.entity_type == "PERSON"]
    assert len(names) == 100 and {f.recognizer for f in names} == {"ColumnClassifier"}


def test_product_columns_are_not_people(scanner: Scanner, tmp_path: Path) -> None:
    """spaCy reads "Desk Lamp" in a product column as a person: a column whose
    name says it holds products or categories drops NER's person/place guesses,
    and its cells are still scanned (an e-mail in one is found)."""
    path = tmp_path / "products.csv"
    rows = ["sku,product,category,price"]
    rows += [f"A{i:04d},Desk Lamp {i}00,Garden,{i}.99" for i in range(1, 9)]
    rows.append("A9999,ask jane.roe@example.org,Garden,1.00")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    obs = scanner.scan(str(path))
    assert not [f for f in obs.findings if f.entity_type in ("PERSON", "LOCATION")]
    assert [f.locator for f in obs.findings if f.entity_type == "EMAIL_ADDRESS"] == \
        ["row=10;col=product"]
    assert col.classify("product", ["Desk Lamp"]) is not None
    assert col.classify("product", ["Desk Lamp"]).entity == col.QUIET  # type: ignore[union-attr]


@pytest.mark.parametrize("siblings,expected", [
    (["email", "phone"], "PERSON"),             # a person's record
    (["schedule", "steps", "owner"], col.QUIET),  # a pipeline's record
    (["id"], None),                             # cannot tell: scanned as is
])
def test_an_ambiguous_name_with_few_values_is_decided_by_its_record(
        siblings: list[str], expected: str | None) -> None:
    verdict = col.classify("name", ["Nightly Build"] if expected == col.QUIET else ["Jane Roe"],
                           siblings)
    assert (verdict.entity if verdict else None) == expected
