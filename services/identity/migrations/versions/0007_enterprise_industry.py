"""enterprise industry: the catalog shows a client the columns of their enterprise's industry first
(issue 24 item 5)

Revision ID: 0007
Revises: 0006
Created: 2026-12-06 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enterprises", sa.Column("industry", sa.String(), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("enterprises", "industry")
