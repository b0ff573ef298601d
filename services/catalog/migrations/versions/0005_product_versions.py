"""product versions: a product and each change to it are reviewed before they are public (issue 23 item 5)

Revision ID: 0005
Revises: 0004
Created: 2026-12-06 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "product_versions",
        sa.Column("product_id", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("reviewer_id", sa.String(), nullable=False),
        sa.Column("review_comment", sa.String(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "version"),
    )
    op.create_index("ix_product_versions_status", "product_versions", ["status"])
    # Every product already public was published before review existed: it becomes its approved version 1.
    op.execute(
        """
        INSERT INTO product_versions (product_id, version, status, content, author_id, reviewer_id,
                                      review_comment, reviewed_at, created_at, updated_at)
        SELECT id, 1, 'approved',
               jsonb_build_object(
                   'category', category, 'name', name, 'description', description,
                   'price_fen', price_fen, 'currency', currency, 'media', media,
                   'parameters', parameters, 'tiers', tiers, 'process', process,
                   'requirement_fields', requirement_fields, 'consultation_kind', consultation_kind),
               '', '', '', created_at, created_at, created_at
        FROM products
        """
    )


def downgrade() -> None:
    op.drop_index("ix_product_versions_status", table_name="product_versions")
    op.drop_table("product_versions")
    op.drop_column("products", "version")
