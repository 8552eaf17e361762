"""Alembic environment of the inventory. Migrations run only programmatically
(``inventory.migrate``): the caller hands over an open connection in
``config.attributes["connection"]``; no alembic.ini is needed at run time."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from inventory.models import Base


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("expected an open SQLAlchemy connection in "
                           "config.attributes['connection'], found none; "
                           "run migrations through inventory.migrate")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
