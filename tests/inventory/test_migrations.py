"""Migrations and models agree (autogenerate finds no difference), opening is
idempotent, and several nodes may start at once."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from inventory.migrate import alembic_config, current_revision, head_revision
from inventory.models import Base
from inventory.store import Store
from scratchwarden.errors import InventoryError


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_sqlite_migrations_match_models(fresh_sqlite_url: str) -> None:
    Store.open(fresh_sqlite_url).close()
    assert _diff(fresh_sqlite_url) == []


@pytest.mark.postgres
def test_postgres_migrations_match_models(fresh_pg_url: str) -> None:
    Store.open(fresh_pg_url).close()
    assert _diff(fresh_pg_url) == []


def test_open_twice_is_idempotent_and_at_head(fresh_sqlite_url: str) -> None:
    Store.open(fresh_sqlite_url).close()
    Store.open(fresh_sqlite_url).close()
    engine = create_engine(fresh_sqlite_url)
    try:
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision() == "0002"
            assert set(inspect(conn).get_table_names()) >= {
                "assets", "findings", "fingerprints", "asset_events", "audit_log", "journal",
                "drills", "alembic_version"}
    finally:
        engine.dispose()


def _start_many(url: str, n: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def start() -> None:
        try:
            Store.open(url).close()
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.postgres
def test_concurrent_first_start_on_postgres(fresh_pg_url: str) -> None:
    assert _start_many(fresh_pg_url, 4) == []
    assert _diff(fresh_pg_url) == []


def test_concurrent_first_start_on_sqlite(fresh_sqlite_url: str) -> None:
    assert _start_many(fresh_sqlite_url, 4) == []
    assert _diff(fresh_sqlite_url) == []


def _start_processes(url: str, n: int) -> list[int]:
    code = "import sys; from inventory.store import Store; Store.open(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, url]) for _ in range(n)]
    return [p.wait(timeout=120) for p in procs]


@pytest.mark.postgres
def test_concurrent_first_start_of_several_nodes_on_postgres(fresh_pg_url: str) -> None:
    assert _start_processes(fresh_pg_url, 3) == [0, 0, 0]
    assert _diff(fresh_pg_url) == []


def test_concurrent_first_start_of_several_processes_on_sqlite(fresh_sqlite_url: str) -> None:
    assert _start_processes(fresh_sqlite_url, 3) == [0, 0, 0]
    assert _diff(fresh_sqlite_url) == []


def test_database_from_a_newer_version_is_refused(fresh_sqlite_url: str) -> None:
    Store.open(fresh_sqlite_url).close()
    engine = create_engine(fresh_sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    finally:
        engine.dispose()
    with pytest.raises(InventoryError, match="expected a schema this version knows"):
        Store.open(fresh_sqlite_url)


def _upgrade_existing(url: str) -> None:
    """A node that ran the first release (0001) with data, then upgrades."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            command.upgrade(alembic_config(conn), "0001")
            conn.commit()
            conn.execute(text("INSERT INTO audit_log (node, seq, time, kind, subject, payload, "
                              "prev_hash, hash) VALUES ('n1', 1, CURRENT_TIMESTAMP, 'k', 's', "
                              "'{}', :z, :z)"), {"z": "0" * 64})
            conn.commit()
            assert current_revision(conn) == "0001"
    finally:
        engine.dispose()
    with Store.open(url) as store:
        assert store.audit_nodes() == ["n1"]
    assert _diff(url) == []


def test_sqlite_upgrade_from_first_release_keeps_data(fresh_sqlite_url: str) -> None:
    Store.open(fresh_sqlite_url).close()  # creates the file with our pragmas
    engine = create_engine(fresh_sqlite_url)
    try:
        with engine.begin() as conn:
            for table in ("drills", "journal", "audit_log", "fingerprints", "findings",
                          "asset_events", "assets", "alembic_version"):
                conn.execute(text(f"DROP TABLE {table}"))  # noqa: S608 - fixed names
    finally:
        engine.dispose()
    _upgrade_existing(fresh_sqlite_url)


@pytest.mark.postgres
def test_postgres_upgrade_from_first_release_keeps_data(fresh_pg_url: str) -> None:
    _upgrade_existing(fresh_pg_url)


def test_the_comparison_is_not_vacuous(fresh_sqlite_url: str) -> None:
    """Drift between database and models must show up in the diff we assert empty."""
    Store.open(fresh_sqlite_url).close()
    engine = create_engine(fresh_sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP INDEX uq_assets_live_path"))
            conn.execute(text("ALTER TABLE journal ADD COLUMN stray TEXT"))
    finally:
        engine.dispose()
    diff = [str(d) for d in _diff(fresh_sqlite_url)]
    assert any("uq_assets_live_path" in d for d in diff)
    assert any("stray" in d for d in diff)
