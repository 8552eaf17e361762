"""Bring a database to the newest schema, programmatically.

Several nodes of a fleet may start at once against one PostgreSQL; the first
one migrates while the others wait on a session advisory lock and then find
nothing to do. On SQLite the revision check and the migration run inside one
``BEGIN IMMEDIATE`` transaction, which serialises a second process the same
way (SQLite DDL is transactional). Alembic keeps its migration context in
module globals, so within one process a lock lets one thread migrate at a time.
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from inventory.engine import WRITE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock key: the 8 bytes of b"swinvmig" as a signed big-endian int64.
MIGRATION_LOCK = int.from_bytes(b"swinvmig", "big", signed=True)
_IN_PROCESS = threading.Lock()  # alembic.context / alembic.op are process globals


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    with _IN_PROCESS:
        if engine.dialect.name == "postgresql":
            _upgrade_postgres(engine)
        else:
            _upgrade_sqlite(engine)


def _upgrade_postgres(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        conn.commit()
        try:
            if current_revision(conn) != head_revision():
                conn.rollback()
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})
            conn.commit()


def _upgrade_sqlite(engine: Engine) -> None:
    with engine.connect() as conn:
        if current_revision(conn) == head_revision():
            conn.rollback()
            return
        conn.rollback()
    with engine.execution_options(**WRITE).connect() as conn:
        if current_revision(conn) != head_revision():  # now under the write lock
            command.upgrade(alembic_config(conn), "head")
        conn.commit()
