"""quality supervision and the question bank: samples, lawyers' records, risk flags, questions, assessments
and qualifications (issue 23 items 2 and 3)

Revision ID: 0008
Revises: 0007
Created: 2026-12-06 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qc_samples",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("lawyer_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("findings", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("scored_by", sa.String(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 0 AND 5", name="ck_qc_samples_score"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_qc_samples_kind", "qc_samples", ["kind"])
    op.create_index("ix_qc_samples_lawyer_id", "qc_samples", ["lawyer_id"])
    op.create_index("ix_qc_samples_status_created_at", "qc_samples", ["status", "created_at"])
    op.create_table(
        "qc_lawyer_records",
        sa.Column("lawyer_id", sa.String(), nullable=False),
        sa.Column("completed_items", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("failed_samples", sa.Integer(), nullable=False),
        sa.Column("risk_flags", sa.Integer(), nullable=False),
        sa.Column("low_rating_streak", sa.Integer(), nullable=False),
        sa.Column("replies_past_due", sa.Integer(), nullable=False),
        sa.Column("watched_items", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lawyer_id"),
    )
    op.create_table(
        "qc_risk_flags",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("lawyer_id", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_qc_risk_flags_kind", "qc_risk_flags", ["kind"])
    op.create_index("ix_qc_risk_flags_lawyer_id", "qc_risk_flags", ["lawyer_id"])
    op.create_table(
        "qb_questions",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("difficulty", sa.Integer(), nullable=False),
        sa.Column("stem", sa.String(), nullable=False),
        sa.Column("choices", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("answer", sa.Integer(), nullable=False),
        sa.Column("explanation", sa.String(), nullable=False),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("difficulty BETWEEN 1 AND 5", name="ck_qb_questions_difficulty"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_qb_questions_field", "qb_questions", ["field"])
    op.create_table(
        "qb_assessments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("lawyer_id", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("question_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_qb_assessments_lawyer_id", "qb_assessments", ["lawyer_id"])
    op.create_index("ix_qb_assessments_field", "qb_assessments", ["field"])
    op.create_table(
        "qb_qualifications",
        sa.Column("lawyer_profile_id", sa.String(), nullable=False),
        sa.Column("field", sa.String(), nullable=False),
        sa.Column("assessment_id", sa.String(), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("lawyer_profile_id", "field"),
    )
    # The lawyers already serving were assigned before assessments existed: they keep their fields.
    op.execute(
        "INSERT INTO qb_qualifications (lawyer_profile_id, field, assessment_id, passed_at) "
        "SELECT id, unnest(fields), '', now() FROM lawyers ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    for table in ("qb_qualifications", "qb_assessments", "qb_questions", "qc_risk_flags"):
        op.drop_table(table)
    op.drop_table("qc_lawyer_records")
    op.drop_table("qc_samples")
