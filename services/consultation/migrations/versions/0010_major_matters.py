"""major matters: a consultation's team of lawyers, the offline meeting held for the client and the team's
signed conclusion (§5.3.1, R-CON-4)

Revision ID: 0010
Revises: 0009
Created: 2026-12-06 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'consultation_major_matters',
        sa.Column('consultation_id', sa.String(), nullable=False),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('team', postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column('booking_id', sa.String(), nullable=False),
        sa.Column('reason', sa.String(), nullable=False),
        sa.Column('escalated_by', sa.String(), nullable=False),
        sa.Column('conclusion', sa.String(), nullable=False),
        sa.Column('signed_by', postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('concluded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id']),
        sa.PrimaryKeyConstraint('consultation_id'),
        sa.CheckConstraint(
            "status IN ('team_formed', 'conclusion_drafted', 'concluded')",
            name='ck_consultation_major_matters_status',
        ),
        sa.CheckConstraint('cardinality(team) >= 2', name='ck_consultation_major_matters_team'),
    )


def downgrade() -> None:
    op.drop_table('consultation_major_matters')
