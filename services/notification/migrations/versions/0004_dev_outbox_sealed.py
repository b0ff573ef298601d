"""dev outbox sealed: recipients found by their blind index, messages sealed with the address's data key

The messages captured before are dropped: they are dev and test captures only, held in clear.

Revision ID: 0004
Revises: 0003
Created: 2026-12-06 16:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM dev_messages")
    op.drop_index('ix_dev_messages_to', table_name='dev_messages')
    op.add_column('dev_messages', sa.Column('to_index', sa.Text(), nullable=False))
    op.create_index('ix_dev_messages_to_index', 'dev_messages', ['to_index'])


def downgrade() -> None:
    op.execute("DELETE FROM dev_messages")
    op.drop_index('ix_dev_messages_to_index', table_name='dev_messages')
    op.drop_column('dev_messages', 'to_index')
    op.create_index('ix_dev_messages_to', 'dev_messages', ['to'])
