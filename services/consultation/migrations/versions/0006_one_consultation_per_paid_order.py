"""one consultation per paid consultation order

Revision ID: 0006
Revises: 0005
Created: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('consultations', sa.Column('spends_order', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    # Before, an order served any number: the first consultation against each spent it (a retainer's first
    # one too, which changes nothing: the retainer's consultations never spend it).
    op.execute(
        "UPDATE consultations SET spends_order = true WHERE id IN ("
        " SELECT DISTINCT ON (order_id) id FROM consultations WHERE order_id <> ''"
        " ORDER BY order_id, created_at, id)"
    )
    op.create_index(
        'uq_consultations_spent_order',
        'consultations',
        ['order_id'],
        unique=True,
        postgresql_where=sa.text('spends_order'),
    )


def downgrade() -> None:
    op.drop_index('uq_consultations_spent_order', table_name='consultations')
    op.drop_column('consultations', 'spends_order')
