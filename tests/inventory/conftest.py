"""Fixtures for the inventory tests: a real SQLite file per test, and a real
PostgreSQL schema per test run (uniquely named, dropped afterwards) so
parallel runs never collide.

Migrating takes longer than most tests, so the migrated SQLite file is copied
from a template, and the PostgreSQL schema is migrated once per session and
emptied before each test. Tests of migrations themselves use
``fresh_sqlite_url`` / ``fresh_pg_url``."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from inventory.models import Base
from inventory.store import Store

PG_SERVER = os.environ.get("SCRATCHWARDEN_TEST_PG",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_schema_url(schema: str) -> str:
    return f"{PG_SERVER}?options=-csearch_path%3D{schema}"


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path) -> str:
    state = tmp_path / "state"
    state.mkdir()
    return f"sqlite:///{state}/inventory.db"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "inventory.db"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(sqlite_template, state / "inventory.db")
    (state / "inventory.db").chmod(0o600)
    return f"sqlite:///{state}/inventory.db"


@contextlib.contextmanager
def _pg_schema() -> Iterator[str]:
    schema = f"sw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    with _pg_schema() as schema:
        yield pg_schema_url(schema)


@pytest.fixture(scope="session")
def pg_session_url() -> Iterator[str]:
    with _pg_schema() as schema:
        url = pg_schema_url(schema)
        Store.open(url).close()
        yield url


@pytest.fixture
def pg_url(pg_session_url: str) -> str:
    engine = create_engine(pg_session_url)
    try:
        with engine.begin() as conn:  # DELETE: far cheaper than TRUNCATE on tiny tables
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    finally:
        engine.dispose()
    return pg_session_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    try:
        yield s
    finally:
        s.close()
