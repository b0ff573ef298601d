"""data keys: the subjects' data keys wrapped by the master key, which seal the reviews' texts
(docs/privacy.md)

The reviews written before this revision are sealed by the service at start (`seal_clear_rows`): sealing
needs the master key, which migrations never hold.

Revision ID: 0012
Revises: 0011
Created: 2026-12-06 19:45:00
"""

from __future__ import annotations

from alembic import op

from services.runtime.keys import create_data_keys_table

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_data_keys_table(op.get_bind())


def downgrade() -> None:
    op.drop_table("data_keys")
