"""orders keep the product version: the catalog's approved version whose tiers and prices were bought
(issue 23 item 5)

Revision ID: 0006
Revises: 0005
Created: 2026-12-06 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("product_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("orders", "product_version")
