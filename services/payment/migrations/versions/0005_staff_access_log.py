"""staff access log: every staff read of a client's order (its requirements are case material),
append-only and hash-chained, and the signed anchors of its head (docs/privacy.md, "Staff access")

Revision ID: 0005
Revises: 0004
Created: 2026-12-06 13:30:00.000000
"""

from __future__ import annotations

from alembic import op

from services.runtime.access_log import create_access_log_tables, drop_access_log_tables

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_access_log_tables(op.get_bind())


def downgrade() -> None:
    drop_access_log_tables(op.get_bind())
