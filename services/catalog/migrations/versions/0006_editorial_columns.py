"""editorial columns: articles in columns aimed at industries, and each column's planned issues
(issue 24 item 5)

Revision ID: 0006
Revises: 0005
Created: 2026-12-06 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "columns",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("industries", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "column_issues",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("column_id", sa.String(), nullable=False),
        sa.Column("planned_for", sa.Date(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("article_id", sa.String(), nullable=False),
        sa.Column("planned_by", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["column_id"], ["columns.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_column_issues_column_id_planned_for", "column_issues", ["column_id", "planned_for"]
    )
    op.add_column("articles", sa.Column("column_id", sa.String(), server_default="", nullable=False))
    op.add_column(
        "articles",
        sa.Column("industries", postgresql.ARRAY(sa.String()), server_default="{}", nullable=False),
    )
    op.create_index("ix_articles_column_id", "articles", ["column_id"])


def downgrade() -> None:
    op.drop_index("ix_articles_column_id", table_name="articles")
    op.drop_column("articles", "industries")
    op.drop_column("articles", "column_id")
    op.drop_index("ix_column_issues_column_id_planned_for", table_name="column_issues")
    op.drop_table("column_issues")
    op.drop_table("columns")
