"""data keys: the subjects' data keys wrapped by the master key, which seal what clients and lawyers type
into booking (docs/privacy.md)

The rows written before this revision are sealed by the service at start (`seal_clear_rows`): sealing
needs the master key, which migrations never hold.

Revision ID: 0007
Revises: 0006
Created: 2026-12-06 19:30:00.000000
"""

from __future__ import annotations

from alembic import op

from services.runtime.keys import create_data_keys_table

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_data_keys_table(op.get_bind())


def downgrade() -> None:
    op.drop_table('data_keys')
