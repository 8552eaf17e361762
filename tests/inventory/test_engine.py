"""Engine set-up and failure modes: SQLite pragmas and file modes; a database
that is down or a path that cannot exist is an InventoryUnavailable with a
clear message (and never a password)."""

from __future__ import annotations

import os
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from inventory.store import Store
from scratchwarden.errors import InventoryError, InventoryUnavailable
from scratchwarden.observations import FileObservation, FileStatus

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_sqlite_pragmas(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as store, store.engine.connect() as conn:
        got = {p: conn.execute(text(f"PRAGMA {p}")).scalar()
               for p in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout")}
    assert got == {"journal_mode": "wal", "foreign_keys": 1, "synchronous": 1,
                   "busy_timeout": 30_000}


def test_sqlite_files_are_private(fresh_sqlite_url: str, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        with Store.open(fresh_sqlite_url) as store:
            store.record_observation("n1", "/r", FileObservation("/r/a", FileStatus.SCANNED),
                                     now=T0)
            files = sorted((tmp_path / "state").iterdir())
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    finally:
        os.umask(old)
    assert set(modes) >= {"inventory.db", "inventory.db-wal", "inventory.db-shm"}
    assert set(modes.values()) == {0o600}


def test_existing_world_readable_db_is_tightened(fresh_sqlite_url: str, tmp_path: Path) -> None:
    Store.open(fresh_sqlite_url).close()
    db = tmp_path / "state" / "inventory.db"
    db.chmod(0o644)
    Store.open(fresh_sqlite_url).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


@pytest.mark.parametrize("where", ["missing-dir", "not-a-dir"])
def test_sqlite_path_that_cannot_exist_is_unavailable(tmp_path: Path, where: str) -> None:
    (tmp_path / "file").write_text("x")
    parent = tmp_path / ("missing" if where == "missing-dir" else "file")
    with pytest.raises(InventoryUnavailable, match="cannot create or open") as info:
        Store.open(f"sqlite:///{parent}/inventory.db")
    assert "inventory.db" in str(info.value)


def test_sqlite_refuses_in_memory() -> None:
    with pytest.raises(InventoryError, match="in-memory"):
        Store.open("sqlite://")


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(InventoryError, match="expected sqlite or postgresql, found 'mysql'"):
        Store.open("mysql://u@localhost/db")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


def test_postgres_down_is_unavailable_without_the_password() -> None:
    url = f"postgresql+psycopg://sw:hunter2secret@127.0.0.1:{_free_port()}/inventory"
    with pytest.raises(InventoryUnavailable, match="unavailable") as info:
        Store.open(url)
    message = str(info.value)
    assert "hunter2secret" not in message and "127.0.0.1" in message
    assert "\n" not in message  # one clear line, not a traceback


@pytest.mark.postgres
def test_postgres_connection_killed_mid_run_recovers(pg_url: str) -> None:
    """pre_ping notices a server-side disconnect; the next call works."""
    with Store.open(pg_url) as store:
        store.append_audit("n1", "k", "s", {}, None)
        with store.engine.connect() as conn:
            pids = [conn.execute(text("SELECT pg_backend_pid()")).scalar()]
        with Store.open(pg_url) as admin, admin.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pids[0]})
            conn.commit()
        assert store.append_audit("n1", "k", "s", {}, None) == 2


def test_sqlite_locked_too_long_is_unavailable(sqlite_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that holds the lock past busy_timeout: the caller gets
    InventoryUnavailable (retry later), not a raw OperationalError."""
    monkeypatch.setattr("inventory.engine.SQLITE_BUSY_TIMEOUT_MS", 50)
    with Store.open(sqlite_url) as holder, Store.open(sqlite_url) as other:
        with holder.engine.execution_options(sw_begin="IMMEDIATE").connect() as conn:
            conn.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held
            with pytest.raises(InventoryUnavailable, match="locked"):
                other.append_audit("n1", "k", "s", {}, None)
            conn.rollback()
        assert other.append_audit("n1", "k", "s", {}, None) == 1
