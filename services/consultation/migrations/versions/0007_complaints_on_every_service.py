"""complaints on every service: a subject (consultation, document order, booking, order), a response clock,
reopening and closing (R-CS-3, §6.1.4.4)

Revision ID: 0007
Revises: 0006
Created: 2026-12-06 13:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('consultation_complaints', sa.Column('subject_type', sa.String(), nullable=True))
    op.add_column('consultation_complaints', sa.Column('subject_id', sa.String(), nullable=True))
    op.add_column('consultation_complaints', sa.Column('reopen_reason', sa.String(), server_default='', nullable=False))
    op.add_column('consultation_complaints', sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('consultation_complaints', sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
    # Every complaint before this revision was about a consultation. Their clocks were never started: the
    # unresolved ones show no due time rather than one no workflow keeps.
    op.execute("UPDATE consultation_complaints SET subject_type = 'consultation', subject_id = consultation_id")
    op.alter_column('consultation_complaints', 'subject_type', nullable=False)
    op.alter_column('consultation_complaints', 'subject_id', nullable=False)
    op.alter_column('consultation_complaints', 'consultation_id', nullable=True)
    op.create_index(op.f('ix_consultation_complaints_subject_type'), 'consultation_complaints', ['subject_type'], unique=False)
    op.create_index(op.f('ix_consultation_complaints_subject_id'), 'consultation_complaints', ['subject_id'], unique=False)
    op.drop_constraint('ck_consultation_complaints_status', 'consultation_complaints', type_='check')
    op.create_check_constraint(
        'ck_consultation_complaints_status',
        'consultation_complaints',
        "status IN ('open', 'in_progress', 'resolved', 'reopened', 'closed')",
    )
    op.create_check_constraint(
        'ck_consultation_complaints_subject_type',
        'consultation_complaints',
        "subject_type IN ('consultation', 'document_order', 'booking', 'order')",
    )


def downgrade() -> None:
    op.drop_constraint('ck_consultation_complaints_subject_type', 'consultation_complaints', type_='check')
    op.drop_constraint('ck_consultation_complaints_status', 'consultation_complaints', type_='check')
    op.execute("DELETE FROM consultation_complaints WHERE subject_type <> 'consultation'")
    op.execute("UPDATE consultation_complaints SET status = 'resolved' WHERE status IN ('reopened', 'closed')")
    op.create_check_constraint(
        'ck_consultation_complaints_status', 'consultation_complaints', "status IN ('open', 'in_progress', 'resolved')"
    )
    op.drop_index(op.f('ix_consultation_complaints_subject_id'), table_name='consultation_complaints')
    op.drop_index(op.f('ix_consultation_complaints_subject_type'), table_name='consultation_complaints')
    op.alter_column('consultation_complaints', 'consultation_id', nullable=False)
    op.drop_column('consultation_complaints', 'escalated_at')
    op.drop_column('consultation_complaints', 'due_at')
    op.drop_column('consultation_complaints', 'reopen_reason')
    op.drop_column('consultation_complaints', 'subject_id')
    op.drop_column('consultation_complaints', 'subject_type')
