"""data keys: the subjects' data keys wrapped by the master key, which seal case material (docs/privacy.md)

The rows written before this revision are sealed by the service at start (`seal_clear_rows`): sealing
needs the master key, which migrations never hold.

Revision ID: 0008
Revises: 0007
Created: 2026-12-06 13:40:00.000000
"""

from __future__ import annotations

from alembic import op

from services.runtime.keys import create_data_keys_table

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_data_keys_table(op.get_bind())


def downgrade() -> None:
    op.drop_table('data_keys')
