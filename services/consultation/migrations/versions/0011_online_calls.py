"""online calls: a client's browser voice/video call to an online lawyer (issue 24 item 3)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString()
    op.create_table(
        "online_calls",
        sa.Column("id", text, nullable=False),
        sa.Column("tenant_id", text, nullable=False),
        sa.Column("client_id", text, nullable=False),
        sa.Column("lawyer_id", text, nullable=False),
        sa.Column("lawyer_user_id", text, nullable=False),
        sa.Column("media", text, nullable=False),
        sa.Column("status", text, nullable=False),
        sa.Column("consultation_id", text, nullable=False),
        sa.Column("order_id", text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("ended_by", text, nullable=False),
        sa.Column("outcome", text, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_online_calls_tenant_id"), "online_calls", ["tenant_id"])
    op.create_index(op.f("ix_online_calls_client_id"), "online_calls", ["client_id"])
    op.create_index(op.f("ix_online_calls_lawyer_user_id"), "online_calls", ["lawyer_user_id"])


def downgrade() -> None:
    op.drop_table("online_calls")
