"""document orders keep why they were cancelled, as a reason code (or `stated`), for the client's page
(issue 23, the portal's cancellation and refund reasons)

Revision ID: 0006
Revises: 0005
Created: 2026-12-06 23:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "document_orders",
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("document_orders", "status_reason")
