"""firm events: the stream a law firm's system follows (issue 17 item 4)

Revision ID: 0004
Revises: 0003
Created: 2026-12-06 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "firm_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("firm_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("object_type", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("lawyer_user_id", sa.String(), nullable=False),
        sa.Column("lawyer_id", sa.String(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_firm_events_firm_id_id", "firm_events", ["firm_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_firm_events_firm_id_id", table_name="firm_events")
    op.drop_table("firm_events")
