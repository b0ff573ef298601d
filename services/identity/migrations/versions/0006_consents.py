"""consents: each acceptance of a privacy policy version (registration, or a login after a new version)

Revision ID: 0006
Revises: 0005
Created: 2026-12-06 13:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'consents',
        sa.Column('id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('user_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('privacy_policy_version', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('via', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_consents_user_id'), 'consents', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_consents_user_id'), table_name='consents')
    op.drop_table('consents')
