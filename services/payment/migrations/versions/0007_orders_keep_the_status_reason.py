"""orders keep why they were cancelled or last refunded, as a reason code (or `stated`), for the client's
pages (issue 23, the portal's cancellation and refund reasons)

Revision ID: 0007
Revises: 0006
Created: 2026-12-06 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("orders", "status_reason")
