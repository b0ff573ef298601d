"""a firm's registered capital is a bigint of fen: an integer stopped at ¥21,474,836.47 (issue 24)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("firms", "registered_capital_fen", type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    op.alter_column("firms", "registered_capital_fen", type_=sa.Integer(), existing_type=sa.BigInteger())
