"""firm onboarding and lawyer credentials (issue 24 items 1 and 2)

Firms onboarded before this revision are `active` with no agreement on record; lawyers active before it are
`verified` (they met the previous activation rule). The demo seed gives its firms an agreement in force; any
other firm takes no new work until the operator records its agreement.

Revision ID: 0007
Revises: 0006
Created: 2026-12-06 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("firms", sa.Column("credit_code", sa.String(), nullable=True))
    op.create_unique_constraint("firms_credit_code_key", "firms", ["credit_code"])
    op.add_column("firms", sa.Column("registered_capital_fen", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("firms", sa.Column("status", sa.String(), nullable=False, server_default="active"))
    op.alter_column("firms", "status", server_default="pending")
    op.add_column("firms", sa.Column("agreement_starts_on", sa.Date(), nullable=True))
    op.add_column("firms", sa.Column("agreement_ends_on", sa.Date(), nullable=True))
    op.add_column("firms", sa.Column("agreement_object", sa.String(), nullable=False, server_default=""))
    op.add_column("firms", sa.Column("agreement_sha256", sa.String(), nullable=False, server_default=""))
    op.add_column("firms", sa.Column("agreement_warned_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("lawyers", sa.Column("verification", sa.String(), nullable=False, server_default=""))
    op.execute("UPDATE lawyers SET verification = 'verified' WHERE active")
    op.add_column("lawyers", sa.Column("inspection_due_on", sa.Date(), nullable=True))
    op.add_column(
        "lawyers", sa.Column("practice_certificate_sha256", sa.String(), nullable=False, server_default="")
    )
    op.add_column("lawyers", sa.Column("degree_certificate_sha256", sa.String(), nullable=False, server_default=""))
    op.create_table(
        "lawyer_verifications",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("lawyer_id", sa.String(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("notes", sa.String(), nullable=False),
        sa.Column("verifier_id", sa.String(), nullable=False),
        sa.Column("verifier_role", sa.String(), nullable=False),
        sa.Column("certificate_number", sa.String(), nullable=False),
        sa.Column("inspection_due_on", sa.Date(), nullable=True),
        sa.Column("practice_certificate_sha256", sa.String(), nullable=False),
        sa.Column("degree_certificate_sha256", sa.String(), nullable=False),
        sa.Column("years_of_practice", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lawyer_verifications_lawyer_id", "lawyer_verifications", ["lawyer_id"])


def downgrade() -> None:
    op.drop_index("ix_lawyer_verifications_lawyer_id", table_name="lawyer_verifications")
    op.drop_table("lawyer_verifications")
    for column in ("degree_certificate_sha256", "practice_certificate_sha256", "inspection_due_on", "verification"):
        op.drop_column("lawyers", column)
    for column in (
        "agreement_warned_at",
        "agreement_sha256",
        "agreement_object",
        "agreement_ends_on",
        "agreement_starts_on",
        "status",
        "registered_capital_fen",
    ):
        op.drop_column("firms", column)
    op.drop_constraint("firms_credit_code_key", "firms", type_="unique")
    op.drop_column("firms", "credit_code")
