"""Identity's migration 0003 against real PostgreSQL: the membership cards issued while a firm_admin could
bind a card to any account (issue 17 item 0) are made safe as the platform upgrades."""

from __future__ import annotations

from sqlalchemy import text

from deploy.local.servers import PostgresServer
from services.runtime.config import load_settings
from services.runtime.db import Database, ensure_database
from services.runtime.migrations import migrate

USERS = [
    # id, roles, firm
    ("issuer", '["firm_admin"]', "firm-a"),
    ("victim", '["supervisor"]', ""),
    ("holder", '["client"]', ""),
]
CARDS = [
    # id, issued_by, user_id, linked_at
    ("bound", "issuer", "victim", "created"),  # bound at issuance: the hole
    ("linked", "issuer", "holder", "later"),  # linked by its holder, with the PIN the firm chose
    ("unlinked", "issuer", None, None),
    ("by-a-service", "", None, None),
]


async def test_cards_bound_by_their_issuer_are_revoked_and_holder_links_undone(
    postgres_server: PostgresServer, unique_name: str
) -> None:
    """R-ACC-2, R-OPS-3: after 0003 no card logs anyone in with a PIN its issuer chose. A card bound at
    issuance (linked_at = created_at) is revoked; a card its holder linked is unlinked but stays active
    (the holder links it again and picks their own PIN); every card belongs to its issuer's firm; each
    change is in the audit trail."""
    settings = load_settings(env="test", database_url=postgres_server.url, database_prefix=unique_name)
    await ensure_database(settings.database_url, settings.database_name("identity"))
    dsn = settings.database_dsn("identity")
    await migrate("identity", dsn, revision="0002")
    db = Database(dsn, pool_size=1)
    try:
        async with db.transaction() as session:
            for user_id, roles, firm in USERS:
                await session.execute(
                    text(
                        "INSERT INTO users (id, tenant_id, display_name, email_enc, phone_enc, password_hash, "
                        "roles, status, created_at, firm_id) "
                        "VALUES (:id, '', 'x', '', '', '', CAST(:roles AS jsonb), 'active', now(), :firm)"
                    ),
                    {"id": user_id, "roles": roles, "firm": firm},
                )
            for card_id, issuer, user_id, linked in CARDS:
                await session.execute(
                    text(
                        "INSERT INTO membership_cards (id, card_index, last4, pin_hash, user_id, status, "
                        "issued_by, created_at, linked_at) VALUES (:id, :id, '0001', 'h', :user, 'active', "
                        ":issuer, timestamptz '2026-11-01 08:00+00', "
                        "CASE :linked WHEN 'created' THEN timestamptz '2026-11-01 08:00+00' "
                        "WHEN 'later' THEN timestamptz '2026-11-02 08:00+00' END)"
                    ),
                    {"id": card_id, "user": user_id, "issuer": issuer, "linked": linked},
                )

        await migrate("identity", dsn)

        async with db.transaction() as session:
            cards = {
                row.id: (row.status, row.user_id, row.linked_at is not None, row.firm_id)
                for row in await session.execute(
                    text("SELECT id, status, user_id, linked_at, firm_id FROM membership_cards")
                )
            }
            audit = sorted(
                (row.action, row.detail["card_id"], row.detail["reason"], row.user_id)
                for row in await session.execute(
                    text("SELECT action, detail, user_id FROM audit_events WHERE actor_id = 'system'")
                )
            )
    finally:
        await db.close()
    assert cards == {
        "bound": ("revoked", None, False, "firm-a"),
        "linked": ("active", None, False, "firm-a"),
        "unlinked": ("active", None, False, "firm-a"),
        "by-a-service": ("active", None, False, ""),
    }
    assert audit == [
        ("card.revoked", "bound", "bound_by_issuer", ""),
        ("card.unlinked", "linked", "issuer_knows_the_pin", "holder"),
    ]
