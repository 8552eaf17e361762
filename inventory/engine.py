"""Engines for the two supported databases, and the one place where database
errors become ``InventoryError``/``InventoryUnavailable``.

SQLite (one node): WAL so the exporter can read while the daemon writes,
``busy_timeout`` so a second process waits instead of failing, foreign keys on,
``synchronous=NORMAL`` (durable at each checkpoint; in WAL a power cut can lose
the last transactions but never corrupts). The driver's own transaction
handling is switched off and we emit ``BEGIN`` ourselves, so a write
transaction can take the write lock up front (``BEGIN IMMEDIATE``) and wait on
``busy_timeout`` rather than fail half way with ``SQLITE_BUSY``. The file is
created 0600 before SQLite opens it; SQLite gives ``-wal``/``-shm`` the mode
of the main file.

PostgreSQL (a fleet): psycopg 3 (``postgresql+psycopg://``), pre-ping so a
restarted server is noticed, short connect timeout so a dead server is an
error message and not a hang.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any, Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from scratchwarden.errors import InventoryError, InventoryUnavailable

SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 5
WRITE = {"sw_begin": "IMMEDIATE"}  # execution options of a write transaction


def parse_url(url: str) -> URL:
    """The SQLAlchemy URL of an inventory.

    Raises:
        InventoryError: not a SQLite or PostgreSQL URL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise InventoryError("inventory URL: expected sqlite:///PATH or "
                             "postgresql+psycopg://..., found an unparsable URL") from e
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InventoryError(f"inventory URL: expected sqlite or postgresql, "
                             f"found {parsed.get_backend_name()!r}")
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe(url: URL) -> str:
    """The URL for messages: never the password."""
    return url.render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return _postgres_engine(parsed)


def _postgres_engine(url: URL) -> Engine:
    args: dict[str, Any] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    return create_engine(url, pool_pre_ping=True, hide_parameters=True, connect_args=args)


def _sqlite_engine(url: URL) -> Engine:
    path = url.database
    if not path or path == ":memory:":
        raise InventoryError("inventory URL: expected a SQLite file path, found an in-memory "
                             "database (nothing would be kept)")
    create_private_file(path, describe(url))
    engine = create_engine(url, hide_parameters=True)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def create_private_file(path: str, shown: str) -> None:
    """Create the database file 0600 (or tighten an existing one) before SQLite
    opens it with the process umask.

    Raises:
        InventoryUnavailable: the file cannot be created or opened.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as e:
        raise InventoryUnavailable(f"inventory database {shown}: cannot create or open the "
                                   f"file ({e.strerror}); expected a writable state "
                                   f"directory") from e
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    mode = conn.get_execution_options().get("sw_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@contextlib.contextmanager
def translate_errors(shown: str) -> Iterator[None]:
    """Wrap database errors where they enter. The message names the database
    (no password) and the driver's first line; SQL parameters are hidden by the
    engine (``hide_parameters``), so no file content can leak through here.

    Raises:
        InventoryUnavailable: the database is down or the connection was lost.
        InventoryError: the database refused the operation.
    """
    try:
        yield
    except OperationalError as e:
        raise InventoryUnavailable(f"inventory database {shown} unavailable: "
                                   f"{_first_line(e)}") from e
    except DBAPIError as e:
        if e.connection_invalidated:
            raise InventoryUnavailable(f"inventory database {shown} connection lost: "
                                       f"{_first_line(e)}") from e
        raise InventoryError(f"inventory database {shown} refused the operation: "
                             f"{_first_line(e)}") from e
    except SQLAlchemyError as e:
        raise InventoryError(f"inventory database {shown}: {type(e).__name__}") from e


def _first_line(e: DBAPIError) -> str:
    orig = e.orig if e.orig is not None else e
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0] if lines else 'no detail'}"


class Database:
    """One database's engine and its two kinds of transaction: ``_write`` (with
    the writer's begin mode: ``BEGIN IMMEDIATE`` on SQLite) and ``_read``. Each
    public method of a subclass runs in one of them; database errors come out
    as ``InventoryUnavailable`` (retry later) or ``InventoryError``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**WRITE)
        self._shown = describe(engine.url)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- sessions -------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[Session]:
        with translate_errors(self._shown), Session(self._writer) as s, s.begin():
            yield s

    @contextlib.contextmanager
    def _read(self) -> Iterator[Session]:
        with translate_errors(self._shown), Session(self._engine) as s, s.begin():
            yield s

