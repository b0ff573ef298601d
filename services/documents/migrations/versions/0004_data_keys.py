"""data keys: the subjects' data keys wrapped by the master key, which seal case material and files
(docs/privacy.md); document_versions.file_sealed says whether a version's object is sealed

The rows written before this revision are sealed by the service at start (`seal_clear_rows`): sealing
needs the master key, which migrations never hold. The files uploaded before stay as they are
(file_sealed false).

Revision ID: 0004
Revises: 0003
Created: 2026-12-06 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.runtime.keys import create_data_keys_table

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_data_keys_table(op.get_bind())
    op.add_column(
        'document_versions',
        sa.Column('file_sealed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    )


def downgrade() -> None:
    op.drop_column('document_versions', 'file_sealed')
    op.drop_table('data_keys')
