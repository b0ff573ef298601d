"""the lawyer projection keeps why a lawyer takes no new work (issue 24: StartCall checks the lawyer's standing)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "consultation_lawyers",
        sa.Column(
            "unavailable_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""
        ),
    )


def downgrade() -> None:
    op.drop_column("consultation_lawyers", "unavailable_reason")
