"""The consultation service's lawyer table follows the catalog (R-CON-2 assignment, §6.2.4.2): a firm admin
activates, edits and deactivates a lawyer in the catalog; the catalog publishes `lawyer.changed` through its
outbox to JetStream (real NATS), consultation's durable consumer applies it, and who gets assigned a new
consultation changes accordingly. Real PostgreSQL for both services; nothing of the bus is faked."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlmodel import select

from deploy.local.servers import NatsServer, PostgresServer
from services.catalog import domain as catalog_domain
from services.catalog import qualifications
from services.catalog.files import QualificationFiles
from services.catalog.models import TABLES as CATALOG_TABLES
from services.catalog.models import LawyerRow
from services.catalog.seed import demo_firms, demo_lawyers, seed_demo
from services.catalog.seed_questions import demo_questions
from services.catalog.store import CatalogStores
from services.consultation import events as consultation_events
from services.consultation.domain import NewConsultation
from services.consultation.events import HandlerContext
from services.consultation.models import DATA_KEYS, TABLES, LawyerProjectionRow
from services.consultation.store import ConsultationStores
from services.consultation.telephony import SimulatedTelephony
from services.identity.seed import demo_email
from services.identity.seed import demo_user_id as identity_demo_user_id
from services.legal_fields import LEGAL_FIELDS
from services.rules import assignment
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.errors import Conflict
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay, bind
from services.runtime.keys import DataKeys, master_key
from services.runtime.service import cancel_all
from tests.support.platform import catalog_stores, isolated_settings, migrated_databases

FIRM = "firm-beijing-zhengda"
FIRM_ADMIN = Principal(identity_demo_user_id(demo_email("firm_admin")), "", frozenset({"firm_admin"}))
CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
OPERATOR = Principal("operator-1", "", frozenset({"operator"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
LAWYER_ACCOUNT = "lawyer-account-projection"
LAWYER = Principal(LAWYER_ACCOUNT, "", frozenset({"lawyer"}))
LABOUR_QUESTION = "公司拖欠了我两个月工资，现在又要求我主动辞职，我可以要求经济补偿吗？"
ALL_WEEK = tuple({"weekday": d, "start": "00:00", "end": "23:59"} for d in range(1, 8))
WAIT_SECONDS = 15.0


@pytest.fixture
def settings(postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str) -> Settings:
    return isolated_settings(
        postgres_server, nats_server, name=unique_name, secret_key=secrets.token_urlsafe(32)
    )


@dataclass
class Services:
    catalog: CatalogStores
    consultation: ConsultationStores


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with migrated_databases(settings, "catalog", "consultation") as databases:
        catalog_db, db = databases["catalog"], databases["consultation"]
        catalog_outbox = Outbox("catalog", settings, CATALOG_TABLES)
        bus = await EventBus.connect(settings, "projection-test")
        files = await QualificationFiles.open(bus.js, settings.jetstream_replicas)
        catalog = catalog_stores(catalog_db, settings, files)
        for firm in demo_firms():  # the firms only: each test decides which lawyers the catalog has
            await catalog.firms.upsert_firm(firm)
        consultation = ConsultationStores.build(
            db, Outbox("consultation", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )
        tasks = [
            asyncio.create_task(OutboxRelay(catalog_db, catalog_outbox, bus).run()),
            asyncio.create_task(
                DurableConsumer(
                    "consultation-lawyers",
                    bus,
                    db,
                    TABLES,
                    bind(consultation_events.TABLE["lawyers"], cast(HandlerContext, None)),
                ).run()
            ),
        ]
        yield Services(catalog, consultation)
        await cancel_all(tasks, "test")
        await bus.close()


def profile(fields: tuple[str, ...]) -> catalog_domain.Profile:
    return catalog_domain.Profile(
        name="投影律师 Projection Lawyer",
        specialty="劳动争议",
        fields=fields,
        service_hours=ALL_WEEK,
        service_exceptions=(),
        years_of_practice=5,
        licence_number="11012015123456789",
        bio="",
        user_id=LAWYER_ACCOUNT,
        online=True,
    )


async def projected(stores: ConsultationStores, **expected: object) -> LawyerProjectionRow:
    """The lawyer's projection row once it shows `expected` (the consumer applies events asynchronously)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        async with stores.lawyers.db.transaction() as session:
            row = await session.get(LawyerProjectionRow, LAWYER_ACCOUNT)
        if row is not None and all(getattr(row, k) == v for k, v in expected.items()):
            return row
        assert time.monotonic() < deadline, f"projection never showed {expected}: {row}"
        await asyncio.sleep(0.05)


async def assigned_lawyer(stores: ConsultationStores) -> str:
    """Who a new labour consultation is assigned to ("" when nobody is eligible)."""
    new = NewConsultation("professional", "工资", LABOUR_QUESTION, "o1")
    view = (await stores.consultations.create(CLIENT, new, "")).view
    async with stores.consultations.db.transaction() as session:
        row = await session.get(type(view.row), view.row.id)
        assert row is not None
        row.legal_field = "labour"
        session.add(row)
    assigned = await stores.assignments.assign(
        view.row.id, [], view.row.reply_due_at, f"assigned:{view.row.id}"
    )
    return assigned.lawyer_id


async def verified(catalog: CatalogStores, lawyer_id: str) -> None:
    """The firm admin submits the lawyer's credentials and the operator verifies them (§4.2.1)."""
    today = qualifications.today_in_china(datetime.now(UTC))
    credentials = qualifications.validate_credentials(
        "11012015123456789", (today + timedelta(days=200)).isoformat(), b"scan", b"scan", 5, today
    )
    await catalog.onboarding.submit_credentials(FIRM_ADMIN, lawyer_id, credentials)
    await catalog.onboarding.verify(OPERATOR, lawyer_id, "verified", "checked")


async def pass_assessment(catalog: CatalogStores, field: str) -> None:
    """The projection lawyer takes the field's assessment and answers every question right."""
    drawn = await catalog.assessments.start(LAWYER, field)
    result = await catalog.assessments.submit(
        LAWYER, drawn.assessment.id, [q.answer for q in drawn.questions]
    )
    assert result.passed


async def test_catalog_activation_edits_and_deactivation_decide_who_is_assigned(services: Services) -> None:
    # Nobody practises labour law in this consultation service yet (no demo seed here).
    assert await assigned_lawyer(services.consultation) == ""
    await services.catalog.assessments.upsert_questions(demo_questions())

    lawyer = await services.catalog.lawyers.create_lawyer(FIRM_ADMIN, FIRM, profile(("labour",)), "create-1")
    await verified(services.catalog, lawyer.id)
    await services.catalog.lawyers.activate_lawyer(FIRM_ADMIN, lawyer.id)
    # Active, but not assessed in labour law yet (§9.4): not assignable in it.
    row = await projected(services.consultation, active=True, fields=[])
    assert await assigned_lawyer(services.consultation) == ""
    await pass_assessment(services.catalog, "labour")
    row = await projected(services.consultation, active=True, fields=["labour"])
    assert row.display_name == "投影律师 Projection Lawyer"
    assert len(row.service_hours) == 7 and row.service_hours[0] == {
        "days": [0],
        "start": "00:00",
        "end": "23:59",
    }
    assert await assigned_lawyer(services.consultation) == LAWYER_ACCOUNT

    # The firm admin moves the lawyer to IP work, which they have not passed: no longer eligible for labour
    # questions, nor yet for IP ones.
    await services.catalog.lawyers.update_lawyer(FIRM_ADMIN, lawyer.id, profile(("ip",)))
    await projected(services.consultation, fields=[])
    assert await assigned_lawyer(services.consultation) == ""

    await services.catalog.lawyers.update_lawyer(FIRM_ADMIN, lawyer.id, profile(("labour", "ip")))
    await projected(services.consultation, fields=["labour"])
    await pass_assessment(services.catalog, "ip")
    await projected(services.consultation, fields=["labour", "ip"])
    await services.catalog.lawyers.deactivate_lawyer(FIRM_ADMIN, lawyer.id)
    await projected(services.consultation, active=False)
    assert await assigned_lawyer(services.consultation) == ""
    again = await services.catalog.lawyers.deactivate_lawyer(FIRM_ADMIN, lawyer.id)  # idempotent
    assert again.active is False

    await services.catalog.lawyers.activate_lawyer(FIRM_ADMIN, lawyer.id)
    await projected(services.consultation, active=True)
    assert await assigned_lawyer(services.consultation) == LAWYER_ACCOUNT


async def test_an_expired_firm_agreement_or_an_overdue_inspection_stops_new_assignments(
    services: Services,
) -> None:
    """Issue 24: a lawyer of a firm whose agreement has ended, or whose inspection is overdue, drops out of
    assignment (the clocks' RefreshLawyerStanding republishes `lawyer.changed`); renewal brings them back."""
    catalog = services.catalog
    await catalog.assessments.upsert_questions(demo_questions())
    lawyer = await catalog.lawyers.create_lawyer(FIRM_ADMIN, FIRM, profile(("labour",)), "create-expiry")
    await verified(catalog, lawyer.id)
    await catalog.lawyers.activate_lawyer(FIRM_ADMIN, lawyer.id)
    await pass_assessment(catalog, "labour")
    await projected(services.consultation, active=True, fields=["labour"])
    assert await assigned_lawyer(services.consultation) == LAWYER_ACCOUNT

    today = qualifications.today_in_china(datetime.now(UTC))
    yesterday = today - timedelta(days=1)
    await catalog.onboarding.record_agreement(FIRM, b"old agreement", today - timedelta(days=400), yesterday)
    expired = "the lawyer's firm's cooperation agreement has expired"
    await projected(services.consultation, active=False, unavailable_reason=expired)
    assert await assigned_lawyer(services.consultation) == ""
    reasons = await catalog.lawyers.unavailable_reasons(
        [await catalog.lawyers.get_lawyer(FIRM_ADMIN, lawyer.id)]
    )
    assert reasons[lawyer.id] == expired
    # Nor does an agent bridge a phone consultation to them: 409 with the catalog's reason.
    phone = await services.consultation.consultations.create(
        CLIENT, NewConsultation("phone", "电话咨询", LABOUR_QUESTION, "order-phone"), ""
    )
    with pytest.raises(Conflict) as refused:
        await services.consultation.calls.start_call(
            AGENT, phone.view.row.id, LAWYER_ACCOUNT, SimulatedTelephony()
        )
    assert (refused.value.reason, refused.value.message) == ("not_assignable", expired)

    await catalog.onboarding.record_agreement(FIRM, b"renewed", today, today + timedelta(days=365))
    await projected(services.consultation, active=True, unavailable_reason="")

    # The inspection date passes: the lawyer's clock lapses and republishes the standing.
    async with catalog.db.transaction() as session:
        row = await session.get(LawyerRow, lawyer.id)
        assert row is not None
        row.inspection_due_on = yesterday
        session.add(row)
    assert await catalog.onboarding.refresh_standing("", lawyer.id) == 1
    overdue = "the lawyer's practising certificate is overdue for its annual inspection"
    await projected(services.consultation, active=False, unavailable_reason=overdue)
    assert await assigned_lawyer(services.consultation) == ""
    with pytest.raises(Conflict) as refused:
        await services.consultation.calls.start_call(
            AGENT, phone.view.row.id, LAWYER_ACCOUNT, SimulatedTelephony()
        )
    assert (refused.value.reason, refused.value.message) == ("not_assignable", overdue)


async def test_the_catalogs_demo_seed_fills_the_consultation_copies(services: Services) -> None:
    """One demo seed: the catalog's, through its outbox; consultation copies every demo lawyer from the
    events with the catalog's fields, activation and hours, and a restart's seed keeps them in step."""
    await seed_demo(services.catalog)
    await seed_demo(services.catalog)  # a restart seeds again
    seeded = {row.user_id: row for row in demo_lawyers()}
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        async with services.consultation.lawyers.db.transaction() as session:
            rows = (await session.exec(select(LawyerProjectionRow))).all()
        copies = {row.lawyer_id: row for row in rows}
        if seeded.keys() <= copies.keys():
            break
        assert time.monotonic() < deadline, f"copies never filled: {sorted(copies)}"
        await asyncio.sleep(0.05)
    for user_id, lawyer in seeded.items():
        copy = copies[user_id]
        assert (copy.fields, copy.active, copy.display_name) == (lawyer.fields, True, lawyer.name)
        assert copy.service_hours == assignment.service_hours_from_catalog(
            (w["weekday"], w["start"], w["end"]) for w in lawyer.service_hours
        )
    # Whatever the hour and the day, someone on duty practises each field (the journeys run at any time).
    for minutes in range(0, 7 * 24 * 60, 37):  # a week, at odd minutes
        at = datetime(2026, 11, 30, tzinfo=UTC) + timedelta(minutes=minutes)
        for legal_field in LEGAL_FIELDS:
            assert any(
                legal_field in copy.fields and assignment.in_service_hours(copy.service_hours, at)
                for copy in copies.values()
            ), (legal_field, at)
