"""Catalog's migration 0011 against real PostgreSQL: the firms that existed before onboarding landed keep
taking new work for a 90-day grace period after the upgrade (issue 24) instead of stopping at once, warned
of and lapsing on the agreement's own clock."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from deploy.local.servers import PostgresServer
from services.catalog import qualifications
from services.catalog.models import FirmRow, LawyerRow
from services.catalog.profile_protos import firm_proto
from services.runtime.config import load_settings
from services.runtime.context import Principal
from services.runtime.db import Database, ensure_database
from services.runtime.migrations import migrate
from tests.support.platform import catalog_stores

OPERATOR = Principal("operator-1", "", frozenset({"operator"}))
EXPIRED = "the lawyer's firm's cooperation agreement has expired"


async def test_firms_from_before_onboarding_work_on_a_90_day_grace_period(
    postgres_server: PostgresServer, unique_name: str
) -> None:
    """A firm of before onboarding (0007 made it `active` with no agreement) gets `agreement_grace_ends_on`
    = the upgrade's Beijing date + 90 days: its verified lawyers take new work, staff see the day, its clock
    is listed for the catalog to start; when the day is over they stop as under an expired agreement. A firm
    onboarded since (pending, or with an agreement) gets none."""
    settings = load_settings(
        env="test",
        database_url=postgres_server.url,
        database_prefix=unique_name,
        secret_key=secrets.token_urlsafe(32),
    )
    await ensure_database(settings.database_url, settings.database_name("catalog"))
    dsn = settings.database_dsn("catalog")
    await migrate("catalog", dsn, revision="0010")
    db = Database(dsn, pool_size=1)
    try:
        async with db.transaction() as session:
            for firm_id, status, ends_on in (
                ("legacy", "active", None),
                ("pending", "pending", None),
                ("agreed", "active", date(2030, 12, 31)),
            ):
                await session.execute(
                    text(
                        "INSERT INTO firms (id, name, city, address, lat, lng, phone, description, "
                        "opening_hours, transit_routes, staff, admin_user_ids, rating_average, rating_count, "
                        "created_at, status, agreement_ends_on) VALUES (:id, :id, '北京', 'x', 0, 0, '', '', "
                        "'[]', '[]', '[]', '[]', 0, 0, now(), :status, :ends_on)"
                    ),
                    {"id": firm_id, "status": status, "ends_on": ends_on},
                )
        today = qualifications.today_in_china(datetime.now(UTC))
        await migrate("catalog", dsn)

        stores = catalog_stores(db, settings)
        async with db.transaction() as session:
            graces = {
                firm.id: firm.agreement_grace_ends_on
                for firm in (await session.execute(text("SELECT id, agreement_grace_ends_on FROM firms")))
            }
            now = datetime.now(UTC)
            session.add(
                LawyerRow(
                    id="l-legacy",
                    firm_id="legacy",
                    name="老律师",
                    active=True,
                    verification="verified",
                    created_at=now,
                    updated_at=now,
                )
            )
        assert graces["legacy"] in (today + timedelta(days=90), today + timedelta(days=91))  # midnight
        assert graces["pending"] is None and graces["agreed"] is None
        grace_ends_on = graces["legacy"]
        assert await stores.onboarding.grace_periods() == [("legacy", grace_ends_on)]

        lawyer = await stores.lawyers.get_lawyer(OPERATOR, "l-legacy")
        assert (await stores.lawyers.unavailable_reasons([lawyer]))["l-legacy"] == ""
        legacy = await stores.firms.get_firm("legacy")
        shown = firm_proto(legacy, OPERATOR)
        assert shown.takes_new_work and shown.agreement_grace_ends_on == grace_ends_on.isoformat()
        assert shown.agreement_ends_on == ""

        # The agreement's warning is given for the grace period's last day, once.
        assert await stores.onboarding.warn_agreement_ending("legacy", grace_ends_on) is not None
        assert (
            await stores.onboarding.warn_agreement_ending("legacy", grace_ends_on + timedelta(days=1)) is None
        )

        async with db.transaction() as session:
            firm = await session.get(FirmRow, "legacy")
            assert firm is not None
            firm.agreement_grace_ends_on = today - timedelta(days=1)
            session.add(firm)
        assert (await stores.lawyers.unavailable_reasons([lawyer]))["l-legacy"] == EXPIRED
        assert not firm_proto(await stores.firms.get_firm("legacy"), OPERATOR).takes_new_work
    finally:
        await db.close()
