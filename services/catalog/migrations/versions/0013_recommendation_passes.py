"""recommendation passes: at most one next-purchase pass per enterprise a minute (issue 23)

Revision ID: 0013
Revises: 0012
Created: 2026-12-06 19:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendation_passes",
        sa.Column("tenant_id", sa.String(), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.create_index("ix_recommendation_passes_due_at", "recommendation_passes", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_recommendation_passes_due_at", table_name="recommendation_passes")
    op.drop_table("recommendation_passes")
