"""Extraction of every file of the shipped sample scratch tree.

Assertions name values by a key into ``VALUES`` and compare locators only, so
a failure never prints extracted text (the samples are fake, but the habit
matters)."""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import cast

import pytest

from daemon.scan.extract import extract_file
from daemon.scan.segments import Extraction, Segment

REPO = Path(__file__).resolve().parents[2]
SESSIONS = REPO / "examples" / "scratch" / "acme" / "sessions"
S1, S2, S3 = (SESSIONS / s for s in ("2026-11-20-a1b2", "2026-11-21-c3d4", "2026-11-22-e5f6"))

VALUES = {
    "ssn": "078-05-1120",
    "visa": "4111111111111111",
    "visa_spaced": "4111 1111 1111 1111",
    "mc": "5555555555554444",
    "mc_spaced": "5555 5555 5555 4444",
    "alice_mail": "alice.example@example.com",
    "bob_mail": "bob.sample@example.org",
    "carol_mail": "carol.testwell@example.net",
    "iban": "GB82WEST12345698765432",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "ghp": "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    "pem": "-----BEGIN RSA PRIVATE KEY-----",
    "phone_alice": "555-0101",
    "phone_carol": "555-0103",
}

def segments_of(e: Extraction) -> list[Segment]:
    """Drain an extraction (``Extraction.segments`` is typed loosely)."""
    return list(cast(Iterable[Segment], e.segments))



def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def locators_of(path: Path, key: str) -> list[str | None]:
    """Every full locator at which VALUES[key] occurs in the extraction."""
    value = VALUES[key]
    found: list[str | None] = []
    for seg in segments_of(extract_file(path)):
        start = seg.text.find(value)
        while start >= 0:
            found.append(seg.locate(start))
            start = seg.text.find(value, start + 1)
    return found


def mime_of(path: Path) -> str:
    e = extract_file(path)
    segments_of(e)
    return e.mime


CASES = [
    (S1 / "extracted" / "claim-form.txt", "text/plain", "ssn", [None]),
    (S1 / "transcript.md", "text/plain", "visa_spaced", [None]),
    (S1 / "inbox" / "claim-77120.eml", "message/rfc822", "alice_mail",
     ["message=1;part=headers"]),
    (S1 / "inbox" / "claim-77120.eml", "message/rfc822", "visa",
     ["message=1;part=receipts.csv;row=2;col=card"]),
    (S1 / "tool-cache" / "crm_lookup.json", "application/json", "iban",
     ["$.response.users[0].iban"]),
    (S1 / "tool-cache" / "events.ndjson", "application/x-ndjson", "bob_mail",
     ["line=3;$.result.email"]),
    (S2 / "exports" / "customers.csv", "text/csv", "mc", ["row=3;col=card_number"]),
    (S2 / "cache" / "crm-cache.sqlite", "application/vnd.sqlite3", "carol_mail",
     ["table=contacts;row=3;col=email"]),
    (S2 / "cache" / "crm-cache.sqlite", "application/vnd.sqlite3", "bob_mail",
     ["table=contacts;row=2;col=email", "table=http_cache;row=1;col=body"]),
    (S2 / "docs" / "intake-form.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "iban", ["table=1;row=2;col=2"]),
    (S2 / "docs" / "intake-form.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     "carol_mail", ["paragraph=3"]),
    (S2 / "docs" / "invoice.pdf", "application/pdf", "mc_spaced", ["page=2"]),
    (S2 / "bundle" / "exports.zip", "application/zip", "visa",
     ["member=export/customers_q3.csv;row=2;col=card_number"]),
    (S2 / "logs" / "agent.log.gz", "application/gzip", "carol_mail", ["member=agent.log"]),
    (S3 / "config" / "deploy-notes.txt", "text/plain", "aws", [None]),
    (S3 / "config" / "deploy-notes.txt", "text/plain", "ghp", [None]),
    (S3 / "config" / "deploy-notes.txt", "text/plain", "pem", [None]),
]


@pytest.mark.parametrize(("path", "mime", "key", "expected"), CASES,
                         ids=[f"{c[0].name}-{c[2]}" for c in CASES])
def test_sample_value_found_at_locator(path: Path, mime: str, key: str,
                                       expected: list[str | None]) -> None:
    assert mime_of(path) == mime
    assert locators_of(path, key) == expected


def test_eml_html_body_is_stripped_of_markup() -> None:
    segs = segments_of(extract_file(S1 / "inbox" / "claim-77120.eml"))
    html = [s for s in segs if s.locator == "message=1;part=body.2"]
    assert len(html) == 1
    assert "<b>" not in html[0].text and "var x" not in html[0].text
    assert "(555) 555-0101" in html[0].text


def test_csv_headers_are_context_not_values() -> None:
    seg = segments_of(extract_file(S2 / "exports" / "customers.csv"))[0]
    assert seg.context == ("name", "email", "phone", "card_number")


def test_clean_file_has_no_sample_value() -> None:
    clean = S3 / "notes" / "README.txt"
    assert all(locators_of(clean, k) == [] for k in VALUES)
    assert mime_of(clean) == "text/plain"


def test_every_sample_file_extracts_and_is_small() -> None:
    files = [p for p in SESSIONS.rglob("*") if p.is_file()]
    assert len(files) >= 13
    for p in files:
        assert p.stat().st_size < 50 * 1024, p.name
        e = extract_file(p)
        assert sum(len(s.text) for s in segments_of(e)) > 0, p.name


def test_sqlite_sample_is_not_modified_by_extraction() -> None:
    db = S2 / "cache" / "crm-cache.sqlite"
    before = (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns,
              sorted(p.name for p in db.parent.iterdir()))
    segments_of(extract_file(db))
    after = (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns,
             sorted(p.name for p in db.parent.iterdir()))
    assert after == before


def test_generator_reproduces_the_committed_text_samples(tmp_path: Path) -> None:
    load_example("make_samples").main(tmp_path)
    for rel in ("2026-11-20-a1b2/transcript.md", "2026-11-21-c3d4/exports/customers.csv",
                "2026-11-20-a1b2/tool-cache/crm_lookup.json",
                "2026-11-22-e5f6/config/deploy-notes.txt"):
        assert (tmp_path / rel).read_bytes() == (SESSIONS / rel).read_bytes(), rel
    assert mime_of(tmp_path / "2026-11-21-c3d4/docs/invoice.pdf") == "application/pdf"
