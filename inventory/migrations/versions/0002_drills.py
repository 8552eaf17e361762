"""Drill results of red lines.

Frozen: does not import the models.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drills",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("node", sa.String(length=255), nullable=False),
        sa.Column("red_line", sa.String(length=255), nullable=False),
        sa.Column("mechanism", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_revision", sa.String(length=255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('enforced', 'not-enforced', 'error')", name=op.f("ck_drills_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drills")),
    )
    op.create_index(
        "ix_drills_node_red_line_time", "drills", ["node", "red_line", "time"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_drills_node_red_line_time", table_name="drills")
    op.drop_table("drills")
