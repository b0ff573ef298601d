"""an online call uses a paid order: a phone consultation order is used up by one call (issue 24)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "online_calls", sa.Column("spends_order", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index(
        "uq_online_calls_spent_order",
        "online_calls",
        ["order_id"],
        unique=True,
        postgresql_where=sa.text("spends_order"),
    )


def downgrade() -> None:
    op.drop_index("uq_online_calls_spent_order", table_name="online_calls")
    op.drop_column("online_calls", "spends_order")
