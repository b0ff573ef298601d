"""erasure revocations: a token of an erased account is told apart from an ordinary revoked one, so it is
answered 404 (issue 20)

Revision ID: 0008
Revises: 0007
Created: 2026-12-06 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("token_revocations", sa.Column("erased", sa.Boolean(), server_default="false", nullable=False))


def downgrade() -> None:
    op.drop_column("token_revocations", "erased")
