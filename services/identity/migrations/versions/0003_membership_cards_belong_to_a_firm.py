"""membership cards belong to a firm; cards bound by their issuer are revoked, holder links are undone

Revision ID: 0003
Revises: 0002
Created: 2026-11-30 09:00:00.000000

Until this revision a firm_admin could issue a card already bound to any account (`user_id` at issuance)
and so log in as that person with the card's PIN. Cards now belong to the issuing firm, are issued bound
to nobody, and only their holder links them, choosing a PIN of their own. Existing cards:
- `firm_id` is the firm of the account that issued them ("" when a service issued them: no firm lists or
  revokes those);
- a card bound at issuance (linked_at = created_at) never had its holder prove anything: it is revoked;
- a card its holder linked still carries the PIN its issuer chose: it is unlinked (still active), so the
  holder links it again with the PIN they were handed and chooses their own.
Each revocation and unlinking is written to the audit trail.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'membership_cards',
        sa.Column('firm_id', sqlmodel.sql.sqltypes.AutoString(), server_default='', nullable=False),
    )
    op.create_index(op.f('ix_membership_cards_firm_id'), 'membership_cards', ['firm_id'], unique=False)
    op.execute(
        "UPDATE membership_cards AS card SET firm_id = issuer.firm_id "
        "FROM users AS issuer WHERE issuer.id = card.issued_by"
    )
    op.execute(
        """
        WITH bound AS (
            UPDATE membership_cards SET status = 'revoked', revoked_at = now(), user_id = NULL, linked_at = NULL
            WHERE user_id IS NOT NULL AND linked_at = created_at AND status = 'active'
            RETURNING id
        )
        INSERT INTO audit_events (id, action, actor_id, user_id, tenant_id, detail, created_at)
        SELECT md5('0003-revoked-' || id), 'card.revoked', 'system', '', '',
               jsonb_build_object('card_id', id, 'reason', 'bound_by_issuer'), now()
        FROM bound
        """
    )
    op.execute(
        """
        WITH relink AS (
            UPDATE membership_cards AS card SET user_id = NULL, linked_at = NULL
            FROM membership_cards AS before
            WHERE before.id = card.id AND card.user_id IS NOT NULL
            RETURNING card.id, before.user_id
        )
        INSERT INTO audit_events (id, action, actor_id, user_id, tenant_id, detail, created_at)
        SELECT md5('0003-unlinked-' || id), 'card.unlinked', 'system', user_id, '',
               jsonb_build_object('card_id', id, 'reason', 'issuer_knows_the_pin'), now()
        FROM relink
        """
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_membership_cards_firm_id'), table_name='membership_cards')
    op.drop_column('membership_cards', 'firm_id')
