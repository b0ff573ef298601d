"""oidc state consent: the privacy policy version a social login accepts travels in its state from the
authorize call to the callback (issue 20)

Revision ID: 0009
Revises: 0008
Created: 2026-12-06 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "oidc_states", sa.Column("privacy_policy_version", sa.String(), server_default="", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("oidc_states", "privacy_policy_version")
