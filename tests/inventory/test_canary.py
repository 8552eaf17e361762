"""Invariant 1: the inventory never contains a detected value. A planted value
is 'found' at known offsets and fingerprinted as the scanner does; its bytes
must appear nowhere in the database, and a scanner bug that hands over the raw
value in place of a fingerprint is refused without echoing it."""

from __future__ import annotations

import hashlib
import hmac
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from inventory.export import export
from inventory.models import Base
from inventory.store import Recording, Store
from scratchwarden.errors import InventoryError
from scratchwarden.observations import FileObservation, FileStatus, Finding

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CANARY_SSN = "219-09-9999"
CANARY_MAIL = "zq7.canary.4242@example.org"
KEY = b"test-hmac-key-not-a-secret"


def fingerprint(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def observation(path: str) -> FileObservation:
    body = f"customer ssn {CANARY_SSN} mail {CANARY_MAIL}"
    s, m = body.index(CANARY_SSN), body.index(CANARY_MAIL)
    findings = (
        Finding("US_SSN", s, s + len(CANARY_SSN), 0.85, "UsSsnRecognizer",
                locator="page 1", fingerprint=fingerprint(CANARY_SSN)),
        Finding("EMAIL_ADDRESS", m, m + len(CANARY_MAIL), 1.0, "EmailRecognizer",
                fingerprint=fingerprint(CANARY_MAIL)),
    )
    return FileObservation(path, FileStatus.SCANNED, size=len(body), sha256="9" * 64,
                           findings=findings)


def record_canaries(store: Store) -> None:
    store.record_many("n1", [Recording(observation(f"/r/doc{i}.txt"), root="/r")
                             for i in range(20)], now=T0)
    store.mark_renamed("n1", "/r/doc0.txt", "/r/moved.txt", now=T0)
    store.mark_deleted("n1", "/r/doc1.txt", now=T0, reason="retention")
    store.append_audit("n1", "scan", "/r/doc2.txt", {"entities": {"US_SSN": 1}}, "rev")


def assert_absent(blob: bytes) -> None:
    for value in (CANARY_SSN, CANARY_MAIL):
        assert value.encode() not in blob
        assert value.encode("utf-16-le") not in blob


def test_sqlite_file_never_holds_the_value(sqlite_url: str, tmp_path: Path) -> None:
    with Store.open(sqlite_url) as store:
        record_canaries(store)
        assert store.assets_with_fingerprint(fingerprint(CANARY_SSN))  # correlatable
        out = io.StringIO()
        export(store, "csv", out)
        export(store, "jsonl", out)
        assert_absent(out.getvalue().encode())
        files = list((tmp_path / "state").iterdir())
        assert any(f.name.endswith("-wal") for f in files)
        assert_absent(b"".join(f.read_bytes() for f in files))  # before a checkpoint
    db = tmp_path / "state" / "inventory.db"
    assert_absent(db.read_bytes())


@pytest.mark.postgres
def test_postgres_never_holds_the_value(pg_url: str) -> None:
    with Store.open(pg_url) as store:
        record_canaries(store)
        with store.engine.connect() as conn:
            dump = "\n".join(
                str(row[0]) for table in Base.metadata.sorted_tables
                for row in conn.execute(text(f"SELECT t::text FROM {table.name} t")))  # noqa: S608
    assert "/r/moved.txt" in dump and fingerprint(CANARY_MAIL) in dump
    assert_absent(dump.encode())


def test_raw_value_in_place_of_a_fingerprint_is_refused(store: Store) -> None:
    bad = Finding("US_SSN", 0, 11, 0.9, "UsSsnRecognizer", fingerprint=CANARY_SSN)
    ok = observation("/r/fine.txt")
    with pytest.raises(InventoryError, match="expected a 64-character hex") as info:
        store.record_many("n1", [Recording(ok), Recording(FileObservation(
            "/r/bad.txt", FileStatus.SCANNED, findings=(bad,)))], now=T0)
    assert CANARY_SSN not in str(info.value)
    assert store.count_assets() == 0  # one transaction: nothing half-written


def test_value_shaped_entity_type_is_refused(store: Store) -> None:
    bad = Finding(CANARY_MAIL, 0, 5, 0.9, "X")
    with pytest.raises(InventoryError, match="expected an entity type") as info:
        store.record_observation("n1", "/r", FileObservation("/r/x", FileStatus.SCANNED,
                                 findings=(bad,)), now=T0)
    assert CANARY_MAIL not in str(info.value)
