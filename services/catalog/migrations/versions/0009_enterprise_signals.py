"""enterprise signals and suggestions: the next-purchase analysis (issue 23 item 1)

Revision ID: 0009
Revises: 0008
Created: 2026-12-06 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enterprise_signals",
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("reference", sa.String(), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_enterprise_signals_tenant_id_occurred_at", "enterprise_signals", ["tenant_id", "occurred_at"]
    )
    op.create_index("ix_enterprise_signals_reference", "enterprise_signals", ["reference"])
    op.create_table(
        "recommendation_suggestions",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("suggested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "product_id"),
    )


def downgrade() -> None:
    op.drop_table("recommendation_suggestions")
    op.drop_index("ix_enterprise_signals_reference", table_name="enterprise_signals")
    op.drop_index("ix_enterprise_signals_tenant_id_occurred_at", table_name="enterprise_signals")
    op.drop_table("enterprise_signals")
