"""Portable column types shared by the models and the migrations.

Why a custom datetime type: SQLite has no time zone type, so SQLAlchemy's
``DateTime(timezone=True)`` hands back naive values there and aware values on
PostgreSQL. The audit chain hashes timestamps, and retention compares them, so
both engines must return the very same aware UTC value: we store UTC (naive on
SQLite, ``timestamptz`` on PostgreSQL), truncated to microseconds, and always
return an aware UTC datetime.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# A 64-bit surrogate key that is still SQLite's auto-incrementing rowid alias
# (SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine. Naive input is refused:
    a naive datetime is ambiguous, and guessing would shift deadlines."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, found {value!r}")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC (Python keeps microseconds, as both engines do)."""
    if moment.tzinfo is None:
        raise ValueError(f"expected a timezone-aware datetime, found naive {moment.isoformat()}")
    return moment.astimezone(UTC)
