"""data keys: the subjects' data keys wrapped by the master key (envelope encryption, docs/privacy.md)

Revision ID: 0003
Revises: 0002
Created: 2026-12-08 09:00:00.000000
"""

from __future__ import annotations

from alembic import op

from services.runtime.keys import create_data_keys_table

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_data_keys_table(op.get_bind())


def downgrade() -> None:
    op.drop_table('data_keys')
