"""orders keep the product's consultation kind

Revision ID: 0003
Revises: 0002
Created: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Orders made before stay '': the consultation service checks only their category.
    op.add_column('orders', sa.Column('consultation_kind', sqlmodel.sql.sqltypes.AutoString(), server_default='', nullable=False))


def downgrade() -> None:
    op.drop_column('orders', 'consultation_kind')
