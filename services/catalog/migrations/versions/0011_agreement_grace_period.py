"""firms from before onboarding get a 90-day grace period instead of stopping at the upgrade (issue 24)

Migration 0007 left the firms that existed before onboarding `active` with no agreement on record, so they
took no new work from the upgrade on until the operator recorded an agreement. Each such firm now takes new
work until the 90th day after this migration runs (Beijing date), `agreement_grace_ends_on`; the catalog starts
the QualificationDeadlineWorkflow of that day when it starts (warning the operator 30 days ahead), and after
it the firm stops as an expired agreement does. Recording an agreement replaces the grace period.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

GRACE_DAYS = 90


def upgrade() -> None:
    op.add_column("firms", sa.Column("agreement_grace_ends_on", sa.Date(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE firms SET agreement_grace_ends_on = (now() AT TIME ZONE 'Asia/Shanghai')::date + :days "
            "WHERE status = 'active' AND agreement_ends_on IS NULL"
        ).bindparams(days=GRACE_DAYS)
    )


def downgrade() -> None:
    op.drop_column("firms", "agreement_grace_ends_on")
