"""token revocations: logout, role changes and erasure take effect before an access token expires

Revision ID: 0004
Revises: 0003
Created: 2026-12-06 05:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'token_revocations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('session_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('revoked_before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_token_revocations_user_id'), 'token_revocations', ['user_id'], unique=False)
    op.create_index(op.f('ix_token_revocations_expires_at'), 'token_revocations', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_token_revocations_expires_at'), table_name='token_revocations')
    op.drop_index(op.f('ix_token_revocations_user_id'), table_name='token_revocations')
    op.drop_table('token_revocations')
