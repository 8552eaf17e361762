"""SQLAlchemy models of the inventory. Schema changes go through migrations
(``inventory/migrations``); a test proves the migrations and these models agree.

Identity and history (the decision others will ask about):

* One ``assets`` row per *incarnation* of a file on a node. Its ``path`` may
  change (``mark_renamed`` keeps the row, so first_seen, findings, retention
  deadline and encryption state follow the file), and when it is deleted the
  row stays with ``status='deleted'`` and ``deleted_at`` set. Rows are never
  dropped. A path that reappears after a delete gets a *new* row: a new
  incarnation, with a fresh first_seen.
* "Unique (node, path) among live rows" is a partial unique index on
  ``(node, path_key) WHERE deleted_at IS NULL`` (SQLite and PostgreSQL both
  have partial indexes). ``path_key`` is the SHA-256 of the path's bytes, so
  the index stays small and a 4 KiB path cannot overflow a B-tree entry.
* Every change is an ``asset_events`` row (seen, changed, renamed, deleted,
  decided, encrypted ...), carrying the path at the time of the event.

No column can hold a detected value: findings are types, counts, scores and
offsets; fingerprints are fixed-length keyed HMAC hex strings (checked).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from inventory.columns import BigId, UTCDateTime

# Deterministic constraint names: later migrations (SQLite batch mode included)
# can address constraints by name.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ASSET_STATUSES = ("scanned", "unscannable", "skipped", "deleted")
ENCRYPTION_STATES = ("plaintext", "encrypted", "quarantined", "deleted")
JOURNAL_STATES = ("intent", "done", "rolled_back")
DRILL_OUTCOMES = ("enforced", "not-enforced", "error")

LIVE = text("deleted_at IS NULL")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Asset(Base):
    """One incarnation of one file on one node (see the module docstring)."""

    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    node: Mapped[str] = mapped_column(String(255))
    root: Mapped[str | None] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    path_key: Mapped[str] = mapped_column(String(64))
    inode: Mapped[int | None] = mapped_column(BigInteger)
    device: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int | None] = mapped_column(BigInteger)
    mtime_ns: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    mime: Mapped[str | None] = mapped_column(String(255))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    last_scanned: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    sensitivity: Mapped[str | None] = mapped_column(String(16))
    classification: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(Text)
    session: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[dict[str, Any] | None]
    rule: Mapped[str | None] = mapped_column(Text)
    deadline: Mapped[datetime | None]
    encryption_state: Mapped[str] = mapped_column(String(16), server_default="plaintext")
    kek_id: Mapped[str | None] = mapped_column(String(255))
    policy_revision: Mapped[str | None] = mapped_column(String(255))
    deleted_at: Mapped[datetime | None]
    deleted_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_one_of("status", ASSET_STATUSES), name="status"),
        CheckConstraint(_one_of("encryption_state", ENCRYPTION_STATES), name="encryption_state"),
        CheckConstraint("(status = 'deleted') = (deleted_at IS NOT NULL)", name="deleted_at"),
        Index("uq_assets_live_path", "node", "path_key", unique=True,
              sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_assets_node_root", "node", "root"),
        Index("ix_assets_node_path_key", "node", "path_key"),
        Index("ix_assets_deadline", "deadline"),
        Index("ix_assets_sha256", "sha256"),
    )


class FindingRow(Base):
    """Per asset, per entity type: how many, how sure, where (offsets only)."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    max_score: Mapped[float] = mapped_column(Float)
    recognizers: Mapped[list[str]] = mapped_column(JSON)
    locations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("asset_id", "entity_type"),)


class Fingerprint(Base):
    """A keyed HMAC-SHA256 of a normalised value, computed by the scanner, so
    the same value can be correlated across files without storing it."""

    __tablename__ = "fingerprints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    entity_type: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("asset_id", "entity_type", "hmac"),
        Index("ix_fingerprints_hmac", "hmac"),
    )


class AssetEvent(Base):
    """History of an asset: what happened, when, under which path."""

    __tablename__ = "asset_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"))
    node: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime]
    details: Mapped[dict[str, Any] | None]

    __table_args__ = (Index("ix_asset_events_asset_id_time", "asset_id", "time"),)


class AuditEntry(Base):
    """One link of a node's append-only hash chain (see ``inventory.audit``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    node: Mapped[str] = mapped_column(String(255))
    seq: Mapped[int] = mapped_column(BigInteger)
    time: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    policy_revision: Mapped[str | None] = mapped_column(String(255))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("node", "seq"),)


class JournalEntry(Base):
    """An intent recorded before a destructive action runs; replayed after a crash."""

    __tablename__ = "journal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    node: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime]
    finished: Mapped[datetime | None]
    details: Mapped[dict[str, Any] | None]

    __table_args__ = (
        CheckConstraint(_one_of("state", JOURNAL_STATES), name="state"),
        Index("ix_journal_node_state", "node", "state"),
    )


class DrillResult(Base):
    """One drill of one red line: did the kernel/systemd really refuse the
    forbidden action? ``not-enforced`` is the alarm an operator must see."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    node: Mapped[str] = mapped_column(String(255))
    red_line: Mapped[str] = mapped_column(String(255))
    mechanism: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    time: Mapped[datetime]
    policy_revision: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None]

    __table_args__ = (
        CheckConstraint(_one_of("outcome", DRILL_OUTCOMES), name="outcome"),
        Index("ix_drills_node_red_line_time", "node", "red_line", "time"),
    )
