"""Next purchases in near real time (§5.5, R-Q-2) against PostgreSQL and NATS: the catalog's
`next-purchase` consumer keeps each enterprise's history once per event and apart from every other
enterprise's, serves the committed model's suggestions with their reasons through the gateway, and
publishes one suggestion for notification when the evidence is strong."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import col, select

from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.catalog.v1.events_pb2 import ItemViewed, RecommendationSuggested
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2 as consultation_events
from counsel.identity.v1.events_pb2 import UserErased
from counsel.payment.v1 import events_pb2 as payment_events
from deploy.local.servers import NatsServer, PostgresServer
from services.catalog import events
from services.catalog.models import TABLES, EnterpriseSignalRow, SuggestionPassRow
from services.catalog.seed import seed_demo
from services.catalog.store import CatalogStores
from services.catalog.store.recommendations import SUGGEST_PASS_EVERY, EnterpriseHistories
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.events import DurableConsumer, EventBus, Outbox, bind, unpack
from services.runtime.grpc_client import open_channel
from services.runtime.pki import TlsMaterial
from services.runtime.records import utcnow
from tests.support import factories
from tests.support.platform import catalog_service, catalog_stores, gateway_clients, isolated_settings
from tests.support.tokens import Issuer

pytestmark = pytest.mark.integration


@dataclass
class Platform:
    http: httpx.AsyncClient
    keys: Issuer
    db: Database
    stores: CatalogStores
    settings: Settings

    def client(self, tenant_id: str) -> dict[str, str]:
        return self.keys.headers(f"client-of-{tenant_id}", roles=("client",), tenant_id=tenant_id)

    def agent(self) -> dict[str, str]:
        return self.keys.headers("agent-1", roles=("agent",), tenant_id="")

    async def suggestions(self, tenant_id: str) -> list[RecommendationSuggested]:
        async with self.db.transaction() as session:
            rows = (await session.execute(select(TABLES.outbox.c.payload))).scalars().all()
        envelopes = [EventEnvelope.FromString(payload) for payload in rows]
        return [
            unpack(e, RecommendationSuggested)
            for e in envelopes
            if e.type == "recommendation.suggested" and e.tenant_id == tenant_id
        ]


@pytest.fixture(scope="module")
def settings(postgres_server: PostgresServer, nats_server: NatsServer) -> Settings:
    return isolated_settings(postgres_server, nats_server, secret_key=secrets.token_urlsafe(32))


@pytest.fixture(scope="module")
async def platform(settings: Settings, pki: Callable[[str], TlsMaterial]) -> AsyncIterator[Platform]:
    keys = Issuer.for_settings(settings)
    async with catalog_service(settings, keys.verifier(), pki("catalog")) as (address, db):
        stores = catalog_stores(db, settings)
        await seed_demo(stores)
        async with open_channel(address, pki("gateway"), default_timeout=10.0) as channel:
            app = create_app(
                GatewaySettings.from_settings(settings),
                gateway_clients(catalog=CatalogServiceStub(channel)),
                verifier=keys.verifier(),
            )
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            ) as http:
                yield Platform(http, keys, db, stores, settings)


def event(event_type: str, payload: object, tenant_id: str) -> tuple[bytes, str]:
    envelope = factories.envelope(event_type, payload, tenant_id=tenant_id)  # type: ignore[arg-type]
    return envelope.SerializeToString(), factories.subject_of(envelope)


async def test_an_enterprises_history_is_kept_once_apart_and_turns_into_suggestions(
    platform: Platform,
) -> None:
    labour, other = f"tenant-{uuid.uuid4().hex[:8]}", f"tenant-{uuid.uuid4().hex[:8]}"
    bus = await EventBus.connect(platform.settings, name="catalog-next-purchase-test")
    consumer = DurableConsumer(
        "catalog-next-purchase-test",
        bus,
        platform.db,
        TABLES,
        bind(events.TABLE["next-purchase"], platform.stores),
    )
    try:
        viewed = event(
            "product.viewed",
            ItemViewed(kind="product", item_id="doc-labour-compliance", user_id=f"client-of-{labour}"),
            labour,
        )
        assert await consumer.handle(*viewed) == "processed"
        assert await consumer.handle(*viewed) == "duplicate"  # a redelivery is not a second view
        for number in range(3):
            classified = consultation_events.ConsultationClassified(
                consultation_id=f"c-{number}", legal_field="labour"
            )
            await consumer.handle(*event("consultation.classified", classified, labour))
        order_id = f"order-{uuid.uuid4().hex[:8]}"
        created = payment_events.OrderCreated(
            order_id=order_id, client_id="x", product_id="doc-contract-review"
        )
        await consumer.handle(*event("order.created", created, other))
        await consumer.handle(*event("order.paid", payment_events.OrderPaid(order_id=order_id), other))
        await consumer.handle(*event("product.viewed", ItemViewed(kind="product", item_id="x"), ""))

        async with platform.db.transaction() as session:
            kept = (
                await session.execute(
                    select(col(EnterpriseSignalRow.tenant_id), func.count())
                    .where(col(EnterpriseSignalRow.tenant_id).in_([labour, other, ""]))
                    .group_by(EnterpriseSignalRow.tenant_id)
                )
            ).all()
            paid = (
                await session.execute(
                    select(col(EnterpriseSignalRow.subject)).where(
                        EnterpriseSignalRow.tenant_id == other, EnterpriseSignalRow.kind == "order_paid"
                    )
                )
            ).scalar_one()
        assert dict(kept) == {labour: 4, other: 2}  # a person outside any enterprise has no history
        assert paid == "doc-contract-review"  # a paid order is its product, from the order's creation

        mine = await platform.http.get("/api/v1/recommendations", headers=platform.client(labour))
        assert mine.status_code == 200, mine.text
        best = mine.json()["items"][0]
        assert best["product_id"] == "doc-labour-compliance"
        assert "本季度三次劳动咨询 → 劳动合规审查" in best["reasons"]
        assert len(mine.json()["items"]) <= 5

        theirs = await platform.http.get("/api/v1/recommendations", headers=platform.client(other))
        assert theirs.json()["items"][0]["product_id"] != "doc-labour-compliance"
        peeking = await platform.http.get(
            "/api/v1/recommendations", params={"enterprise_id": labour}, headers=platform.client(other)
        )
        assert peeking.status_code == 404
        followed_up = await platform.http.get(
            "/api/v1/recommendations", params={"enterprise_id": labour}, headers=platform.agent()
        )
        assert followed_up.json() == mine.json()

        # The classifications came within a minute of the view's pass: theirs is owed, and runs on time.
        await platform.stores.histories.run_due_passes(utcnow() + SUGGEST_PASS_EVERY)
        suggested = await platform.suggestions(labour)
        assert [(s.product_id, s.client_id) for s in suggested] == [
            ("doc-labour-compliance", f"client-of-{labour}")
        ], "suggested once, to the member who acted, while the evidence only grows"
        assert suggested[0].product_name == "劳动合规审查"
        assert not await platform.suggestions(other)
    finally:
        await bus.js.delete_stream(bus.stream)
        await bus.close()


async def test_a_burst_of_events_costs_one_pass_a_minute_and_its_last_event_is_still_considered(
    platform: Platform,
) -> None:
    """Each pass reads the enterprise's year and every product: at most one per enterprise a minute, decided
    in the database (another catalog process, a redelivery, hold to it); an event within the minute leaves a
    pass owed at its end, which the sweep runs, so the burst's last event still leads to the suggestion. The
    clock is an argument: no sleeping."""
    tenant_id = f"tenant-{uuid.uuid4().hex[:8]}"
    histories = platform.stores.histories
    start = utcnow()

    async def grew(kind: str, subject: str, at: datetime, by: EnterpriseHistories = histories) -> None:
        envelope = factories.envelope(f"{kind}.recorded", tenant_id=tenant_id)
        async with platform.db.transaction() as session:
            await by.record(session, envelope, kind, subject, user_id=f"client-of-{tenant_id}")
            await by.suggest(session, tenant_id, at)

    async def passes() -> tuple[datetime | None, datetime | None]:
        async with platform.db.transaction() as session:
            row = await session.get(SuggestionPassRow, tenant_id)
            assert row is not None
            return row.passed_at, row.due_at

    await grew("viewed", "doc-labour-compliance", start)
    assert await passes() == (start, None)  # the first event's pass runs at once
    for second in (10, 20, 30):  # the evidence arrives within the minute
        await grew("consultation", "labour", start + timedelta(seconds=second))
    assert await passes() == (start, start + SUGGEST_PASS_EVERY)
    assert not await platform.suggestions(tenant_id), "no pass ran for the burst yet"

    await histories.run_due_passes(start + SUGGEST_PASS_EVERY - timedelta(seconds=1))
    assert await passes() == (start, start + SUGGEST_PASS_EVERY)  # not due yet
    await histories.run_due_passes(start + SUGGEST_PASS_EVERY)
    assert await passes() == (start + SUGGEST_PASS_EVERY, None)
    assert [s.product_id for s in await platform.suggestions(tenant_id)] == ["doc-labour-compliance"]

    # Another catalog process sees the same record: within the minute it owes a pass, not runs one.
    elsewhere = EnterpriseHistories(platform.db, Outbox("catalog", platform.settings, TABLES))
    await grew("viewed", "doc-labour-compliance", start + timedelta(seconds=70), by=elsewhere)
    await grew("viewed", "doc-labour-compliance", start + timedelta(seconds=80), by=elsewhere)
    assert await passes() == (start + SUGGEST_PASS_EVERY, start + 2 * SUGGEST_PASS_EVERY)


async def test_a_client_who_only_consulted_is_linked_to_their_enterprise_until_erased(
    platform: Platform,
) -> None:
    """`consultation.classified` names its client on the envelope (the classifier or an agent decided the
    field, so the actor is not the client): the agent's client insight finds the client's enterprise from
    their consultations alone; once the client is erased, the enterprise's history no longer names them."""
    tenant_id, client_id = f"tenant-{uuid.uuid4().hex[:8]}", f"client-{uuid.uuid4().hex[:8]}"
    agent = Principal("agent-1", "", frozenset({"agent"}))
    bus = await EventBus.connect(platform.settings, name="catalog-client-link-test")
    tables = events.TABLE["next-purchase"] | events.TABLE["erasure"]
    consumer = DurableConsumer(
        "catalog-client-link-test", bus, platform.db, TABLES, bind(tables, platform.stores)
    )
    try:
        for number, agent_id in enumerate(("", "", agent.user_id)):  # the last one an agent's correction
            classified = factories.envelope(
                "consultation.classified",
                consultation_events.ConsultationClassified(
                    consultation_id=f"c-{number}", legal_field="labour"
                ),
                tenant_id=tenant_id,
                actor_id=agent_id,
                client_id=client_id,
            )
            assert await consumer.handle(*_serialized(classified)) == "processed"
        enterprise_id, suggested = await platform.stores.histories.for_principal(agent, "", client_id)
        assert enterprise_id == tenant_id
        assert suggested and suggested[0].product_id == "doc-labour-compliance"
        assert await platform.stores.histories.for_principal(agent, "", agent.user_id) == ("", [])

        erased = factories.envelope(
            "user.erased", UserErased(user_id=client_id, tenant_id=tenant_id), tenant_id=tenant_id
        )
        assert await consumer.handle(*_serialized(erased)) == "processed"
        assert await platform.stores.histories.for_principal(agent, "", client_id) == ("", [])
        _, kept = await platform.stores.histories.for_principal(agent, tenant_id, "")
        assert [r.product_id for r in kept] == [r.product_id for r in suggested], (
            "the enterprise keeps its history, without the person"
        )
    finally:
        await bus.js.delete_stream(bus.stream)
        await bus.close()


def _serialized(envelope: EventEnvelope) -> tuple[bytes, str]:
    return envelope.SerializeToString(), factories.subject_of(envelope)
