"""The booking service through the gateway, against real PostgreSQL (migrated with its Alembic revisions,
the btree_gist exclusion constraint included) and the real catalog service (seeded demo lawyers, their
hours and firms) over gRPC: no double booking under 50 simultaneous requests (R-BK-1), availability in UTC
and the lawyer's time zone, bad input as 4xx naming the field, idempotent creation, tenant isolation
(R-ACC-4), confirmation by the order's workflow, reschedule and cancellation by policy, check-in and
completion, the quality record (R-Q-4) and visits (R-BK-2)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import grpc
import httpx
import pytest
from sqlalchemy import text
from sqlmodel import select

from counsel.booking.v1 import booking_service_pb2 as pb
from counsel.booking.v1 import booking_service_pb2_grpc
from counsel.booking.v1 import events_pb2 as booking_event_messages
from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceStub, BookingServiceStub
from counsel.catalog.v1 import catalog_service_pb2
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.identity.v1.events_pb2 import UserErased
from deploy.local.servers import NatsServer, PostgresServer
from services.booking import domain
from services.booking import events as booking_events
from services.booking.models import DATA_KEYS as BOOKING_DATA_KEYS
from services.booking.models import TABLES as BOOKING_TABLES
from services.booking.models import BookingRow, ConnectRequestRow, VisitRow
from services.booking.server import BookingServicer
from services.booking.store import BookingStores
from services.booking.store.sealed import seal_clear_rows
from services.booking.workflow_link import WorkflowLink
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.runtime.config import Settings
from services.runtime.context import Principal
from services.runtime.erasure import ERASED_TEXT
from services.runtime.errors import Conflict
from services.runtime.events import Outbox, unpack
from services.runtime.grpc_client import open_channel
from services.runtime.keys import SEALED_PREFIX, DataKeys, master_key, tenant_subject
from services.runtime.pki import TlsMaterial
from tests.support.factories import deliver, envelope
from tests.support.gateway import problem_fields, rpc_error
from tests.support.platform import (
    catalog_service,
    gateway_clients,
    isolated_settings,
    migrated_databases,
    serving,
)
from tests.support.tokens import Issuer

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROBLEM = "application/problem+json"
LAWYER = "lawyer-1"  # demo: Monday to Friday 09:00-17:30, firm-beijing-zhengda


def next_weekday(days_ahead: int, hour: int, minute: int = 0) -> datetime:
    """A Monday-to-Friday local time at least `days_ahead` days from now (Beijing time)."""
    day = datetime.now(SHANGHAI).date() + timedelta(days=days_ahead)
    while day.isoweekday() > 5 or day.isoformat() == "2027-01-01":
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


@dataclass
class Platform:
    http: httpx.AsyncClient
    keys: Issuer
    stores: BookingStores
    booking: Any  # BookingInternalService stub as the worker, without a token (as the activities call it)
    user_booking: Any  # BookingService stub as the gateway, called with a user's token
    lawyer_user_id: str

    def client(self, tenant: str = "tenant-1", user: str = "client-1") -> dict[str, str]:
        return self.keys.headers(user, roles=("client",), tenant_id=tenant)

    def lawyer(self, user_id: str | None = None) -> dict[str, str]:
        return self.keys.headers(user_id or self.lawyer_user_id, roles=("lawyer",), tenant_id="")

    def supervisor(self) -> dict[str, str]:
        return self.keys.headers("supervisor-1", roles=("supervisor",), tenant_id="")

    async def events(self, event_type: str) -> list[EventEnvelope]:
        async with self.stores.db.transaction() as session:
            rows = (await session.execute(select(BOOKING_TABLES.outbox.c.payload))).scalars().all()
        return [e for e in (EventEnvelope.FromString(p) for p in rows) if e.type == event_type]


class ClientEnterprises:
    """Identity's answer on client enterprises: the tests' `tenant-…` ids exist, nothing else does."""

    async def GetEnterprise(
        self, request: identity_pb.GetEnterpriseRequest
    ) -> identity_pb.GetEnterpriseResponse:
        if not request.enterprise_id.startswith("tenant-"):
            raise rpc_error(grpc.StatusCode.NOT_FOUND, "no such enterprise")
        return identity_pb.GetEnterpriseResponse(
            enterprise=identity_pb.Enterprise(id=request.enterprise_id, name="测试企业")
        )


@pytest.fixture(scope="module")
def settings(postgres_server: PostgresServer, nats_server: NatsServer) -> Settings:
    return isolated_settings(postgres_server, nats_server, secret_key=secrets.token_urlsafe(32))


@pytest.fixture(scope="module")
async def platform(settings: Settings, pki: Callable[[str], TlsMaterial]) -> AsyncIterator[Platform]:
    """The catalog (seeded) and booking services on their own databases, and the gateway in front."""
    keys = Issuer.for_settings(settings)
    async with contextlib.AsyncExitStack() as running:
        catalog_address, _ = await running.enter_async_context(
            catalog_service(settings, keys.verifier(), pki("catalog"))
        )
        catalog_channel = open_channel(catalog_address, pki("booking"), default_timeout=10.0)
        catalog = CatalogServiceStub(await running.enter_async_context(catalog_channel))
        databases = await running.enter_async_context(migrated_databases(settings, "booking", pool_size=10))
        stores = BookingStores.build(
            databases["booking"],
            Outbox("booking", settings, BOOKING_TABLES),
            DataKeys(databases["booking"], master_key(settings), BOOKING_DATA_KEYS),
        )
        booking_address = await running.enter_async_context(
            serving(
                "booking",
                BookingServicer(stores, cast(Any, catalog), cast(Any, ClientEnterprises())),
                pb,
                booking_service_pb2_grpc,
                keys.verifier(),
                pki("booking"),
            )
        )
        # The workflow's activities (the worker, without a token) and the gateway (a user's token) apart.
        channels = [
            open_channel(booking_address, pki("worker"), default_timeout=30.0),
            open_channel(booking_address, pki("gateway"), default_timeout=30.0),
            open_channel(catalog_address, pki("gateway"), default_timeout=10.0),
        ]
        for channel in channels:
            await running.enter_async_context(channel)
        booking = BookingInternalServiceStub(channels[0])
        gateway_booking = BookingServiceStub(channels[1])
        lawyer = (await catalog.GetLawyer(catalog_service_pb2.GetLawyerRequest(lawyer_id=LAWYER))).lawyer
        clients = gateway_clients(catalog=CatalogServiceStub(channels[2]), booking=gateway_booking)
        app = create_app(GatewaySettings.from_settings(settings), clients, verifier=keys.verifier())
        http = await running.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=60)
        )
        yield Platform(http, keys, stores, booking, gateway_booking, lawyer.user_id)


def body(start: datetime, minutes: int = 60, **extra: Any) -> dict[str, Any]:
    return {"lawyer_id": LAWYER, "mode": "at_firm", "start": start.isoformat(), "minutes": minutes, **extra}


async def book(platform: Platform, start: datetime, minutes: int = 60, tenant: str = "tenant-1") -> dict:
    response = await platform.http.post(
        "/api/v1/bookings", json=body(start, minutes), headers=platform.client(tenant)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- R-BK-1: no double booking ------------------------------------------------------------------------


async def test_fifty_simultaneous_overlapping_requests_yield_exactly_one_booking(platform: Platform) -> None:
    """Every request overlaps every other (all cover 10:30-11:00); PostgreSQL's exclusion constraint lets
    exactly one through, the rest are 409 — whatever the interleaving of the 50 transactions."""
    day = next_weekday(10, 10)
    requests = []
    for n in range(50):
        start = day + timedelta(minutes=30 * (n % 2))  # 10:00 or 10:30
        minutes = 60 + 30 * (n % 3 == 0)  # 60 or 90
        requests.append(
            platform.http.post(
                "/api/v1/bookings",
                json=body(start, minutes, needs=f"request {n}"),
                headers=platform.client(f"tenant-{n % 5}", f"client-{n}"),
            )
        )
    responses = await asyncio.gather(*requests)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, statuses
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.headers["content-type"].startswith(PROBLEM)
    async with platform.stores.db.transaction() as session:
        live = (
            await session.exec(
                select(BookingRow).where(
                    BookingRow.lawyer_id == LAWYER,
                    BookingRow.start >= day,
                    BookingRow.start < day + timedelta(hours=2),
                )
            )
        ).all()
    assert len(live) == 1 and live[0].status == "held"


async def test_on_site_travel_buffers_block_adjacent_meetings(platform: Platform) -> None:
    visit_start = next_weekday(11, 13)
    response = await platform.http.post(
        "/api/v1/bookings",
        json=body(visit_start, 60, mode="on_site", address="北京市海淀区中关村大街1号"),
        headers=platform.client(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["buffer_minutes"] == 60 and response.json()["venue"] is None
    # A meeting at the firm right after the visit would leave the lawyer no time to travel back.
    right_after = await platform.http.post(
        "/api/v1/bookings", json=body(visit_start + timedelta(hours=1)), headers=platform.client()
    )
    assert right_after.status_code == 409
    after_the_buffer = await book(platform, visit_start + timedelta(hours=2))
    assert after_the_buffer["status"] == "held"


# --- availability ------------------------------------------------------------------------------------


async def test_availability_is_free_slots_in_utc_and_the_lawyers_time_zone(platform: Platform) -> None:
    day = next_weekday(12, 0)
    held = await book(platform, day.replace(hour=11))
    response = await platform.http.get(
        f"/api/v1/lawyers/{LAWYER}/availability",
        params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 200, response.text
    availability = response.json()
    assert availability["time_zone"] == "Asia/Shanghai"
    items = {item["start_local"]: item for item in availability["items"]}
    nine = day.replace(hour=9).isoformat()
    assert items[nine]["minutes"] == 120  # until the held 11:00 meeting
    assert items[nine]["start"] == day.replace(hour=9).astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert (
        day.replace(hour=11).isoformat() not in items
        and day.replace(hour=11, minute=30).isoformat() not in items
    )
    assert items[day.replace(hour=12).isoformat()]["minutes"] == 240
    assert max(items) == day.replace(hour=17).isoformat()  # hours end at 17:30
    # Cancelled, the slot is free again.
    cancelled = await platform.http.post(
        f"/api/v1/bookings/{held['id']}/cancel", json={}, headers=platform.client()
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = await platform.http.get(
        f"/api/v1/lawyers/{LAWYER}/availability",
        params={"from": day.isoformat(), "to": (day + timedelta(days=1)).isoformat()},
    )
    assert {i["start_local"] for i in again.json()["items"]} >= {day.replace(hour=11).isoformat()}


async def test_availability_of_an_unknown_lawyer_is_404_and_a_wide_range_is_422(platform: Platform) -> None:
    assert (await platform.http.get("/api/v1/lawyers/nobody/availability")).status_code == 404
    now = datetime.now(UTC)
    wide = await platform.http.get(
        f"/api/v1/lawyers/{LAWYER}/availability",
        params={"from": now.isoformat(), "to": (now + timedelta(days=60)).isoformat()},
    )
    assert wide.status_code == 422 and problem_fields(wide) == ["to"]


# --- bad input is a clear 4xx -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"start": next_weekday(5, 7).isoformat()}, 422, "start"),  # before service hours
        ({"start": next_weekday(5, 17).isoformat()}, 422, "start"),  # runs past 17:30
        ({"start": (datetime.now(UTC) - timedelta(days=1)).isoformat()}, 422, "start"),  # in the past
        ({"minutes": 0}, 422, "minutes"),
        ({"minutes": -60}, 422, "minutes"),
        ({"mode": "on_site"}, 422, "address"),  # on site without an address
        ({"lawyer_id": "no-such-lawyer"}, 422, "lawyer_id"),
        ({"mode": "video"}, 422, "mode"),
        ({"start": "2030-01-07T10:00:00"}, 422, "start"),  # no offset
        ({"enterprise_id": "tenant-other"}, 403, None),  # booking for another enterprise
    ],
)
async def test_bad_requests_are_refused_naming_the_field(
    platform: Platform, changes: dict[str, Any], status: int, field: str | None
) -> None:
    request = {**body(next_weekday(5, 10)), **changes}
    response = await platform.http.post("/api/v1/bookings", json=request, headers=platform.client())
    assert response.status_code == status, response.text
    if field:
        assert field in problem_fields(response)


async def test_a_staff_member_cannot_book_and_a_lawyer_cannot_cancel(platform: Platform) -> None:
    response = await platform.http.post(
        "/api/v1/bookings", json=body(next_weekday(5, 10)), headers=platform.lawyer()
    )
    assert response.status_code == 403
    held = await book(platform, next_weekday(18, 15))
    by_lawyer = await platform.http.post(
        f"/api/v1/bookings/{held['id']}/cancel", json={}, headers=platform.lawyer()
    )
    assert by_lawyer.status_code == 403
    still = await platform.http.get(f"/api/v1/bookings/{held['id']}", headers=platform.client())
    assert still.json()["status"] == "held"


# --- idempotency and tenancy -----------------------------------------------------------------------------


async def test_creation_is_idempotent_and_another_tenant_sees_nothing(platform: Platform) -> None:
    request = body(next_weekday(13, 15), needs="股权激励方案")
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await platform.http.post("/api/v1/bookings", json=request, headers={**platform.client(), **key})
    again = await platform.http.post("/api/v1/bookings", json=request, headers={**platform.client(), **key})
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["id"] == again.json()["id"] and first.json()["status"] == "held"
    assert first.json()["hold_expires_at"]
    other = {**request, "needs": "another body"}
    reused = await platform.http.post("/api/v1/bookings", json=other, headers={**platform.client(), **key})
    assert reused.status_code == 409
    booking_id = first.json()["id"]
    # at_firm: the firm's address, opening hours and transit routes come with the booking.
    venue = first.json()["venue"]
    assert venue["address"] and venue["opening_hours"] and venue["transit_routes"]
    assert first.json()["address"] == venue["address"]

    assert (
        await platform.http.get(f"/api/v1/bookings/{booking_id}", headers=platform.client("tenant-9"))
    ).status_code == 404
    foreign_cancel = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=platform.client("tenant-9")
    )
    assert foreign_cancel.status_code == 404
    assert (
        await platform.http.get(f"/api/v1/bookings/{booking_id}", headers=platform.lawyer())
    ).status_code == 200
    assert (
        await platform.http.get(f"/api/v1/bookings/{booking_id}", headers=platform.lawyer("lawyer-x"))
    ).status_code == 404
    mine = await platform.http.get("/api/v1/bookings", params={"mine": 1}, headers=platform.client())
    assert booking_id in {b["id"] for b in mine.json()["items"]}
    theirs = await platform.http.get(
        "/api/v1/bookings", params={"mine": 1}, headers=platform.client("tenant-9")
    )
    assert booking_id not in {b["id"] for b in theirs.json()["items"]}


# --- the life of a booking -------------------------------------------------------------------------------


async def test_confirm_reschedule_and_cancel_with_refund_by_policy(platform: Platform) -> None:
    held = await book(platform, next_weekday(14, 9))
    booking_id = held["id"]
    # The order's workflow confirms it once paid (an internal call, without a user token).
    confirmed = await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=booking_id, order_id="order-1", tenant_id="tenant-1", paid_fen=59900
        )
    )
    assert confirmed.booking.status == "confirmed" and not confirmed.booking.HasField("hold_expires_at")
    again = await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=booking_id, order_id="order-1", tenant_id="tenant-1", paid_fen=59900
        )
    )
    assert again.booking.status == "confirmed"  # a retried activity changes nothing
    # A client cannot confirm by itself.
    with pytest.raises(Exception) as refused:
        await platform.booking.ConfirmBooking(
            pb.ConfirmBookingRequest(booking_id=booking_id, order_id="x"),
            metadata=tuple(platform.client().items()),
        )
    assert "PERMISSION_DENIED" in str(refused.value)

    new_start = next_weekday(14, 9).replace(hour=14)
    moved = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/reschedule",
        json={"start": new_start.isoformat()},
        headers=platform.client(),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["start_local"] == new_start.isoformat() and moved.json()["status"] == "confirmed"
    # The old time is free again; the new one is taken.
    await book(platform, next_weekday(14, 9), tenant="tenant-2")
    clash = await platform.http.post(
        "/api/v1/bookings", json=body(new_start), headers=platform.client("tenant-2")
    )
    assert clash.status_code == 409
    outside = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/reschedule",
        json={"start": new_start.replace(hour=20).isoformat()},
        headers=platform.client(),
    )
    assert outside.status_code == 422 and problem_fields(outside) == ["start"]

    cancelled = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/cancel", json={"reason": "plans changed"}, headers=platform.client()
    )
    assert cancelled.status_code == 200
    assert (cancelled.json()["status"], cancelled.json()["refund"]["amount"]) == (
        "cancelled",
        59900,
    )  # > 24 h ahead
    [event] = [e for e in await platform.events("booking.cancelled") if e.aggregate_id == booking_id]
    assert event.tenant_id == "tenant-1"
    # The words typed stay sealed in booking's store: the event (and the workflow's signal made from it)
    # carries who cancelled, as a code.
    assert unpack(event, booking_event_messages.BookingCancelled).reason == "client_request"
    assert b"plans changed" not in event.SerializeToString()
    assert cancelled.json()["cancel_reason"] == "plans changed"
    twice = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/cancel", json={}, headers=platform.client()
    )
    assert twice.status_code == 409


async def test_a_late_cancellation_refunds_half(platform: Platform) -> None:
    held = await book(platform, next_weekday(15, 16))
    await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=held["id"], order_id="order-2", tenant_id="tenant-1", paid_fen=59900
        )
    )
    start = datetime.fromisoformat(held["start"])
    client = Principal("client-1", tenant_id="tenant-1", roles=frozenset({"client"}))
    row = await platform.stores.bookings.cancel(client, held["id"], "sick", now=start - timedelta(hours=3))
    assert (row.status, row.refund_fen) == ("cancelled", 29950)


async def test_the_paying_products_terms_decide_late_cancellation_and_rescheduling(
    platform: Platform,
) -> None:
    """The seeded on-site product's parameters say free_cancel_hours=48, late_refund_percent=30: 30 h before
    the start a booking paid with it refunds 30 % and can no longer move; one paid with the at-firm
    product (no terms) is still free then."""
    client = Principal("client-1", tenant_id="tenant-1", roles=frozenset({"client"}))
    visit = await book(platform, next_weekday(48, 9))
    confirmed = await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=visit["id"],
            order_id="order-terms",
            tenant_id="tenant-1",
            paid_fen=100000,
            product_id="booking-on-site",
        )
    )
    assert confirmed.booking.product_id == "booking-on-site"
    assert dict(confirmed.booking.terms) == {"free_cancel_hours": "48", "late_refund_percent": "30"}
    start = datetime.fromisoformat(visit["start"])
    with pytest.raises(Conflict):
        await platform.stores.bookings.reschedule(
            client, visit["id"], domain.Calendar(hours=()), start, now=start - timedelta(hours=30)
        )
    row = await platform.stores.bookings.cancel(client, visit["id"], "", now=start - timedelta(hours=30))
    assert (row.status, row.refund_fen) == ("cancelled", 30000)

    meeting = await book(platform, next_weekday(48, 14))
    await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=meeting["id"],
            order_id="order-default",
            tenant_id="tenant-1",
            paid_fen=100000,
            product_id="booking-at-firm",
        )
    )
    start = datetime.fromisoformat(meeting["start"])
    row = await platform.stores.bookings.cancel(client, meeting["id"], "", now=start - timedelta(hours=30))
    assert row.refund_fen == 100000 and row.terms == {}  # the default policy: free until 24 h before


async def test_an_expired_hold_cannot_be_confirmed_and_frees_its_slot(platform: Platform) -> None:
    start = next_weekday(16, 10)
    held = await book(platform, start)
    expired = await platform.booking.ExpireBooking(pb.ExpireBookingRequest(booking_id=held["id"]))
    assert expired.booking.status == "expired"
    with pytest.raises(Exception) as refused:
        await platform.booking.ConfirmBooking(
            pb.ConfirmBookingRequest(booking_id=held["id"], order_id="late", tenant_id="tenant-1")
        )
    assert "FAILED_PRECONDITION" in str(refused.value)  # the order's workflow refunds
    assert (await book(platform, start, tenant="tenant-3"))["status"] == "held"
    # Another enterprise's order cannot confirm this tenant's booking.
    other = await book(platform, start + timedelta(hours=3))
    with pytest.raises(Exception) as foreign:
        await platform.booking.ConfirmBooking(
            pb.ConfirmBookingRequest(booking_id=other["id"], order_id="o", tenant_id="tenant-9")
        )
    assert "NOT_FOUND" in str(foreign.value)


async def stages_of(platform: Platform, booking_id: str) -> list[tuple[str, str, str]]:
    """(stage, status, actor) of the booking's recorded stages, as the client's GetBooking returns them."""
    reply = await platform.user_booking.GetBooking(
        pb.GetBookingRequest(booking_id=booking_id), metadata=tuple(platform.client().items())
    )
    return [(s.stage, s.status, s.actor) for s in reply.booking.stages]


async def test_every_transition_records_its_stage_with_due_times_for_the_order_timeline(
    platform: Platform,
) -> None:
    """R-Q-3, §9.2: the booking's part of the order timeline is written with each transition."""
    held = await book(platform, next_weekday(40, 10))
    booking_id = held["id"]
    start = datetime.fromisoformat(held["start"])
    reply = await platform.user_booking.GetBooking(
        pb.GetBookingRequest(booking_id=booking_id), metadata=tuple(platform.client().items())
    )
    [first] = reply.booking.stages
    assert (first.stage, first.status, first.actor) == ("held", "current", "client-1")
    assert first.due_at == reply.booking.hold_expires_at  # due: when the unpaid hold is released
    await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=booking_id, order_id="order-st", tenant_id="tenant-1", paid_fen=59900
        )
    )
    new_start = next_weekday(40, 15)
    moved = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/reschedule",
        json={"start": new_start.isoformat()},
        headers=platform.client(),
    )
    assert moved.status_code == 200, moved.text
    lawyer = Principal(platform.lawyer_user_id, roles=frozenset({"lawyer"}))
    await platform.stores.bookings.check_in(lawyer, booking_id, now=new_start + timedelta(minutes=1))
    await platform.stores.bookings.check_in(
        lawyer, booking_id, now=new_start + timedelta(minutes=2)
    )  # no 2nd stage
    await platform.stores.bookings.complete(
        lawyer, booking_id, "合同审阅完成", now=new_start + timedelta(minutes=50)
    )
    await platform.stores.bookings.complete(
        None, booking_id, ""
    )  # the workflow's automatic completion: no 2nd stage
    reply = await platform.user_booking.GetBooking(
        pb.GetBookingRequest(booking_id=booking_id), metadata=tuple(platform.client().items())
    )
    stages = reply.booking.stages
    assert [(s.stage, s.status, s.actor) for s in stages] == [
        ("held", "done", "client-1"),
        ("confirmed", "done", "system"),
        ("rescheduled", "done", "client-1"),
        ("checked_in", "done", platform.lawyer_user_id),
        ("completed", "done", platform.lawyer_user_id),
    ]
    assert stages[1].due_at.ToDatetime(UTC) == start  # confirmed: due at the meeting's start
    assert stages[2].due_at.ToDatetime(UTC) == new_start  # rescheduled: due at the new start
    assert not stages[3].HasField("due_at") and not stages[4].HasField("due_at")
    assert stages[4].entered_at.ToDatetime(UTC) == new_start + timedelta(minutes=50)
    # An agent's listing carries the same records.
    listed = await platform.user_booking.ListBookings(
        pb.ListBookingsRequest(status="completed"),
        metadata=tuple(platform.keys.headers("agent-1", roles=("agent",), tenant_id="").items()),
    )
    [mine] = [b for b in listed.bookings if b.id == booking_id]
    assert [s.stage for s in mine.stages] == [s.stage for s in stages]


async def test_cancelled_expired_and_no_show_bookings_end_with_their_stage(platform: Platform) -> None:
    cancelled = await book(platform, next_weekday(44, 9))
    await platform.http.post(
        f"/api/v1/bookings/{cancelled['id']}/cancel", json={"reason": "x"}, headers=platform.client()
    )
    assert await stages_of(platform, cancelled["id"]) == [
        ("held", "done", "client-1"),
        ("cancelled", "done", "client-1"),
    ]
    expired = await book(platform, next_weekday(44, 11))
    await platform.booking.ExpireBooking(pb.ExpireBookingRequest(booking_id=expired["id"]))
    await platform.booking.ExpireBooking(pb.ExpireBookingRequest(booking_id=expired["id"]))  # retried
    assert await stages_of(platform, expired["id"]) == [
        ("held", "done", "client-1"),
        ("expired", "done", "system"),
    ]
    absent = await book(platform, next_weekday(44, 14))
    await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(booking_id=absent["id"], order_id="order-ns", tenant_id="tenant-1")
    )
    assert (await stages_of(platform, absent["id"]))[-1] == ("confirmed", "current", "system")
    await platform.booking.MarkNoShow(pb.MarkNoShowRequest(booking_id=absent["id"]))
    assert await stages_of(platform, absent["id"]) == [
        ("held", "done", "client-1"),
        ("confirmed", "done", "system"),
        ("no_show", "done", "system"),
    ]


async def test_check_in_complete_quality_and_rating(platform: Platform) -> None:
    held = await book(platform, next_weekday(17, 10))
    booking_id = held["id"]
    start = datetime.fromisoformat(held["start"])
    await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(
            booking_id=booking_id, order_id="order-3", tenant_id="tenant-1", paid_fen=59900
        )
    )
    # Too early through the API (the meeting is days away); the lawyer checks in at the meeting.
    early = await platform.http.post(f"/api/v1/bookings/{booking_id}/check-in", headers=platform.lawyer())
    assert early.status_code == 409
    lawyer = Principal(platform.lawyer_user_id, roles=frozenset({"lawyer"}))
    await platform.stores.bookings.check_in(lawyer, booking_id, now=start + timedelta(minutes=2))
    done = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/complete",
        json={"summary": "讨论了股权激励方案"},
        headers=platform.lawyer(),
    )
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["summary"]) == ("completed", "讨论了股权激励方案")
    other_lawyer = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/quality-checklist",
        json={"checklist": {}},
        headers=platform.lawyer("lawyer-x"),
    )
    assert other_lawyer.status_code == 404
    incomplete = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/quality-checklist",
        json={"checklist": {"advice_given": True}},
        headers=platform.lawyer(),
    )
    assert incomplete.status_code == 422 and problem_fields(incomplete) == ["checklist"]
    checklist = {
        "identity_verified": True,
        "needs_understood": True,
        "advice_given": True,
        "risks_explained": True,
        "follow_up_agreed": False,
    }
    filled = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/quality-checklist",
        json={"checklist": checklist, "note": "客户需补充材料"},
        headers=platform.lawyer(),
    )
    assert filled.status_code == 200, filled.text
    # The client confirms the checklist item by item (R-Q-4: not only self-reported), once.
    confirmation = {**checklist, "risks_explained": False}
    confirm_path = f"/api/v1/bookings/{booking_id}/quality-checklist/confirmation"
    assert (
        await platform.http.post(confirm_path, json={"checklist": confirmation}, headers=platform.lawyer())
    ).status_code == 403
    partial = await platform.http.post(
        confirm_path, json={"checklist": {"advice_given": True}}, headers=platform.client()
    )
    assert partial.status_code == 422 and problem_fields(partial) == ["client_checklist"]
    confirmed = await platform.http.post(
        confirm_path, json={"checklist": confirmation}, headers=platform.client()
    )
    assert confirmed.status_code == 200, confirmed.text
    again = await platform.http.post(confirm_path, json={"checklist": checklist}, headers=platform.client())
    assert again.status_code == 409
    rated = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/rating",
        json={"rating": 4, "comment": "专业"},
        headers=platform.client(),
    )
    assert rated.status_code == 200, rated.text
    seen = (await platform.http.get(f"/api/v1/bookings/{booking_id}", headers=platform.supervisor())).json()
    assert seen["quality"] == {
        "checklist": checklist,
        "lawyer_note": "客户需补充材料",
        "rating": 4,
        "client_comment": "专业",
        "client_checklist": confirmation,
    }
    [completed] = [e for e in await platform.events("booking.completed") if e.aggregate_id == booking_id]
    assert completed.tenant_id == "tenant-1"
    facts = unpack(completed, booking_event_messages.BookingCompleted)
    assert (facts.mode, facts.checked_in) == (held["mode"], True)


async def test_visits_are_recorded_by_lawyers_and_seen_by_the_enterprise_and_supervisors(
    platform: Platform,
) -> None:
    enterprise = f"tenant-{uuid.uuid4().hex[:6]}"
    today = datetime.now(SHANGHAI).date().isoformat()
    response = await platform.http.post(
        "/api/v1/visits",
        json={
            "enterprise_id": enterprise,
            "date": today,
            "findings": "劳动合同未按时续签",
            "attendees": ["人事经理"],
            "follow_ups": ["一周内补签"],
        },
        headers=platform.lawyer(),
    )
    assert response.status_code == 201, response.text
    visit_id = response.json()["id"]
    # Recording it publishes `visit.recorded`, which quality supervision samples (R-Q-5).
    recorded = [
        unpack(e, booking_event_messages.VisitRecorded) for e in await platform.events("visit.recorded")
    ]
    assert [(r.visit_id, r.lawyer_id, r.date) for r in recorded if r.enterprise_id == enterprise] == [
        (visit_id, platform.lawyer_user_id, today)
    ]
    future = await platform.http.post(
        "/api/v1/visits",
        json={"enterprise_id": enterprise, "date": "2999-01-01", "findings": "x"},
        headers=platform.lawyer(),
    )
    assert future.status_code == 422 and problem_fields(future) == ["date"]
    unknown = await platform.http.post(
        "/api/v1/visits",
        json={"enterprise_id": "no-such-enterprise", "date": today, "findings": "x"},
        headers=platform.lawyer(),
    )
    assert unknown.status_code == 422 and problem_fields(unknown) == ["enterprise_id"]
    # A client asking for another enterprise's visits learns nothing of it.
    other = await platform.http.get(
        "/api/v1/visits", params={"enterprise_id": enterprise}, headers=platform.client("tenant-else")
    )
    assert other.status_code == 404
    for headers, sees in [
        (platform.client(enterprise), True),
        (platform.client("tenant-else"), False),
        (platform.supervisor(), True),
        (platform.lawyer(), True),
        (platform.lawyer("lawyer-x"), False),
    ]:
        listed = await platform.http.get("/api/v1/visits", headers=headers)
        assert listed.status_code == 200
        assert (visit_id in {v["id"] for v in listed.json()["items"]}) is sees


async def test_connect_a_lawyer_publishes_its_process_and_the_online_lawyers(platform: Platform) -> None:
    """R-BK-3: steps to follow, and the online lawyers with specialty, fields, hours and next free slot."""
    response = await platform.http.get("/api/v1/connect")
    assert response.status_code == 200, response.text
    process = response.json()
    assert [s["number"] for s in process["steps"]] == list(range(1, len(process["steps"]) + 1))
    endpoints = {s["endpoint"] for s in process["steps"]}
    assert {"POST /api/v1/consultations", "POST /api/v1/bookings"} <= endpoints
    online = {lawyer["id"]: lawyer for lawyer in process["online_lawyers"]}
    assert LAWYER in online and "lawyer-5" not in online  # the demo's lawyer-5 is offline
    first = online[LAWYER]
    assert first["name"] and first["specialty"] and first["fields"]
    assert first["service_hours"][0] == "1 09:00-17:30"
    slot = first["next_free_slot"]
    assert slot["minutes"] >= 30 and slot["start_local"].endswith("+08:00")


async def test_a_meeting_request_holds_the_online_lawyers_next_free_slot(platform: Platform) -> None:
    """R-BK-3: "meet now" becomes a held booking at the next free slot, confirmed only by paying it."""
    process = (await platform.http.get("/api/v1/connect")).json()
    [listed] = [lawyer for lawyer in process["online_lawyers"] if lawyer["id"] == LAWYER]
    key = {"Idempotency-Key": uuid.uuid4().hex}
    request = {"lawyer_id": LAWYER, "mode": "meeting", "needs": "合同纠纷，想尽快当面沟通"}
    made = await platform.http.post(
        "/api/v1/connect/requests", json=request, headers=platform.client("tenant-7") | key
    )
    assert made.status_code == 201, made.text
    connect = made.json()
    booking = connect["booking"]
    assert (connect["status"], connect["mode"], booking["status"]) == ("booking_held", "meeting", "held")
    assert booking["start"] == listed["next_free_slot"]["start"] and booking["minutes"] <= 60
    assert booking["venue"]["address"] and booking["needs"] == request["needs"]
    assert connect["booking_id"] == booking["id"] and connect["next_step"]["product_id"] == "booking-at-firm"
    assert (
        connect["next_step"]["endpoint"] == "POST /api/v1/orders"
        and booking["id"] in (connect["next_step"]["detail"])
    )
    again = await platform.http.post(
        "/api/v1/connect/requests", json=request, headers=platform.client("tenant-7") | key
    )
    assert again.status_code == 201 and again.json()["id"] == connect["id"]  # one request, one booking
    assert again.json()["booking"]["id"] == booking["id"]
    # The slot is now taken: the next request gets a later one.
    later = await platform.http.post(
        "/api/v1/connect/requests", json=request, headers=platform.client("tenant-7")
    )
    assert later.status_code == 201, later.text
    assert later.json()["booking"]["start"] > booking["start"]


async def test_a_call_request_is_queued_for_agents_with_the_phone_consultation_to_pay(
    platform: Platform,
) -> None:
    """R-BK-3, R-CON-2: a call needs a paid phone consultation; the request tells the client which product
    to order and waits in the agents' queue, who bridge the call through consultation's phone bridge."""
    made = await platform.http.post(
        "/api/v1/connect/requests",
        json={"lawyer_id": LAWYER, "mode": "call", "needs": "劳动仲裁咨询"},
        headers=platform.client("tenant-8", "client-8"),
    )
    assert made.status_code == 201, made.text
    call = made.json()
    assert (call["status"], call["booking"], call["booking_id"]) == ("awaiting_payment", None, None)
    assert call["next_step"]["product_id"] == "consult-phone"
    assert call["next_step"]["endpoint"] == "POST /api/v1/orders"
    assert "POST /api/v1/consultations" in call["next_step"]["detail"]
    queue = await platform.http.get(
        "/api/v1/connect/requests",
        params={"mode": "call"},
        headers=platform.keys.headers("agent-1", roles=("agent",), tenant_id=""),
    )
    assert queue.status_code == 200
    [queued] = [r for r in queue.json()["items"] if r["id"] == call["id"]]
    assert (queued["lawyer_id"], queued["enterprise_id"]) == (LAWYER, "tenant-8")
    assert all(r["mode"] == "call" for r in queue.json()["items"])
    # Another enterprise's client sees none of it; the client's own enterprise does.
    theirs = await platform.http.get("/api/v1/connect/requests", headers=platform.client("tenant-9"))
    assert call["id"] not in {r["id"] for r in theirs.json()["items"]}
    own = await platform.http.get("/api/v1/connect/requests", headers=platform.client("tenant-8"))
    assert call["id"] in {r["id"] for r in own.json()["items"]}


@pytest.mark.parametrize(
    ("request_body", "status", "field"),
    [
        ({"lawyer_id": "lawyer-5", "mode": "call"}, 409, None),  # the demo's lawyer-5 is offline
        ({"lawyer_id": "lawyer-5", "mode": "meeting"}, 409, None),
        ({"lawyer_id": "no-such-lawyer", "mode": "call"}, 404, None),
        ({"lawyer_id": LAWYER, "mode": "video"}, 422, "mode"),
        ({"lawyer_id": LAWYER}, 422, "mode"),
        ({"mode": "call"}, 422, "lawyer_id"),
        ({"lawyer_id": LAWYER, "mode": "call", "needs": "x" * 5001}, 422, "needs"),
    ],
)
async def test_bad_connect_requests_are_clear_4xx(
    platform: Platform, request_body: dict[str, Any], status: int, field: str | None
) -> None:
    response = await platform.http.post(
        "/api/v1/connect/requests", json=request_body, headers=platform.client()
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    if field:
        assert problem_fields(response) == [field]
    lawyer = await platform.http.post(
        "/api/v1/connect/requests", json={"lawyer_id": LAWYER, "mode": "call"}, headers=platform.lawyer()
    )
    assert lawyer.status_code == 403


async def test_erasing_a_client_removes_their_words_from_their_bookings_only(platform: Platform) -> None:
    """R-PRIV-1 (docs/erasure.md): a typed cancellation reason goes; the platform's own reasons and other
    clients' bookings stay."""
    erased_user, other_user = f"client-{uuid.uuid4().hex[:6]}", f"client-{uuid.uuid4().hex[:6]}"
    mine = await platform.http.post(
        "/api/v1/bookings",
        json=body(next_weekday(19, 9), needs="我的需求"),
        headers=platform.client(user=erased_user),
    )
    theirs = await platform.http.post(
        "/api/v1/bookings",
        json=body(next_weekday(19, 14), needs="别人的需求"),
        headers=platform.client(user=other_user),
    )
    assert (mine.status_code, theirs.status_code) == (201, 201)
    await platform.http.post(
        f"/api/v1/bookings/{mine.json()['id']}/cancel",
        json={"reason": "我家里有事"},
        headers=platform.client(user=erased_user),
    )
    call = await platform.http.post(
        "/api/v1/connect/requests",
        json={"lawyer_id": LAWYER, "mode": "call", "needs": "我的电话咨询需求"},
        headers=platform.client(user=erased_user),
    )
    assert call.status_code == 201, call.text
    event = envelope(
        "user.erased", UserErased(user_id=erased_user, tenant_id="tenant-1"), tenant_id="tenant-1"
    )
    async with platform.stores.db.transaction() as session:
        link = WorkflowLink(cast(Any, None), "", platform.stores.bookings.keys)
        await deliver(booking_events.TABLE["erasure"], link, event, session)
    erased = await platform.stores.bookings.get(None, mine.json()["id"])
    kept = await platform.stores.bookings.get(None, theirs.json()["id"])
    assert (erased.cancel_reason, erased.needs) == (ERASED_TEXT, ERASED_TEXT)
    assert (erased.status, erased.start) == ("cancelled", next_weekday(19, 9))
    assert kept.needs == "别人的需求"
    # Connect requests lose the client's words; the booking's stage records (no personal data) stay.
    async with platform.stores.db.transaction() as session:
        request = await session.get(ConnectRequestRow, call.json()["id"])
    assert request is not None and request.needs == ERASED_TEXT
    stages = (await platform.stores.bookings.stages([erased.id]))[erased.id]
    assert [s.stage for s in stages] == ["held", "cancelled"]


# --- R-PRIV-1: what clients and lawyers type is sealed at rest (docs/privacy.md) -------------------------


async def raw_row(platform: Platform, table: str, row_id: str) -> dict[str, Any]:
    """The row as stored, not as the stores open it."""
    async with platform.stores.db.engine.connect() as conn:
        row = (await conn.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id})).one()
    return dict(row._mapping)


async def test_what_clients_and_lawyers_type_is_sealed_at_rest_and_read_in_plaintext(
    platform: Platform,
) -> None:
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    tenant = f"tenant-{uuid.uuid4().hex[:6]}"
    held = await platform.http.post(
        "/api/v1/bookings",
        json=body(next_weekday(23, 9), mode="on_site", address=f"海淀区 {marker}", needs=f"股权 {marker}"),
        headers=platform.client(tenant),
    )
    assert held.status_code == 201, held.text
    booking_id = held.json()["id"]
    cancelled = await platform.http.post(
        f"/api/v1/bookings/{booking_id}/cancel",
        json={"reason": f"有事 {marker}"},
        headers=platform.client(tenant),
    )
    assert cancelled.status_code == 200, cancelled.text
    seen = (await platform.http.get(f"/api/v1/bookings/{booking_id}", headers=platform.client(tenant))).json()
    assert (seen["address"], seen["needs"], seen["cancel_reason"]) == (
        f"海淀区 {marker}",
        f"股权 {marker}",
        f"有事 {marker}",
    )
    # The completed meeting's summary and the quality record's texts.
    completed = await book(platform, next_weekday(23, 14), tenant=tenant)
    start = datetime.fromisoformat(completed["start"])
    await platform.booking.ConfirmBooking(
        pb.ConfirmBookingRequest(booking_id=completed["id"], order_id="order-s", tenant_id=tenant, paid_fen=1)
    )
    lawyer = Principal(platform.lawyer_user_id, roles=frozenset({"lawyer"}))
    client = Principal("client-1", roles=frozenset({"client"}), tenant_id=tenant)
    bookings = platform.stores.bookings
    await bookings.check_in(lawyer, completed["id"], now=start + timedelta(minutes=1))
    await bookings.complete(lawyer, completed["id"], f"纪要 {marker}")
    checklist = dict.fromkeys(domain.QUALITY_CHECKLIST, True)
    await bookings.record_quality(lawyer, completed["id"], checklist, f"备注 {marker}", 0, "")
    rated = await bookings.record_quality(client, completed["id"], {}, "", 5, f"很好 {marker}")
    assert (rated.summary, rated.quality["lawyer_note"], rated.quality["client_comment"]) == (
        f"纪要 {marker}",
        f"备注 {marker}",
        f"很好 {marker}",
    )
    visit = await platform.http.post(
        "/api/v1/visits",
        json={
            "enterprise_id": tenant,
            "date": datetime.now(SHANGHAI).date().isoformat(),
            "findings": f"发现 {marker}",
            "attendees": [f"经理 {marker}"],
            "follow_ups": [f"补签 {marker}"],
        },
        headers=platform.lawyer(),
    )
    assert visit.status_code == 201, visit.text
    assert (visit.json()["findings"], visit.json()["attendees"], visit.json()["follow_ups"]) == (
        f"发现 {marker}",
        [f"经理 {marker}"],
        [f"补签 {marker}"],
    )
    call = await platform.http.post(
        "/api/v1/connect/requests",
        json={"lawyer_id": LAWYER, "mode": "call", "needs": f"电话 {marker}"},
        headers=platform.client(tenant),
    )
    assert call.status_code == 201, call.text
    listed = await platform.http.get("/api/v1/connect/requests", headers=platform.client(tenant))
    assert [r["needs"] for r in listed.json()["items"] if r["id"] == call.json()["id"]] == [f"电话 {marker}"]
    stored = [
        await raw_row(platform, "bookings", booking_id),
        await raw_row(platform, "bookings", completed["id"]),
        await raw_row(platform, "visits", visit.json()["id"]),
        await raw_row(platform, "connect_requests", call.json()["id"]),
    ]
    assert marker not in repr(stored)
    assert stored[0]["address"].startswith(SEALED_PREFIX) and stored[0]["cancel_reason"].startswith(
        SEALED_PREFIX
    )
    assert stored[1]["quality"]["client_comment"].startswith(SEALED_PREFIX)
    assert stored[1]["quality"]["rating"] == 5  # the facts stay in clear


async def test_rows_written_before_sealing_are_sealed_at_start(platform: Platform) -> None:
    """What booking stored in clear before it sealed is sealed by `seal_clear_rows` (run at start): the
    platform's own cancellation reasons stay, a shredded subject's leftovers are redacted, a second run
    finds nothing."""
    tenant, shredded = f"tenant-{uuid.uuid4().hex[:6]}", f"tenant-{uuid.uuid4().hex[:6]}"
    keys = platform.stores.bookings.keys
    await keys.destroy(tenant_subject(shredded))
    start = next_weekday(40, 9)
    ids = {name: f"{name}-{uuid.uuid4().hex[:8]}" for name in ("typed", "expired", "gone", "visit", "call")}

    def booking(booking_id: str, tenant_id: str, minutes_late: int, reason: str) -> BookingRow:
        begins = start + timedelta(hours=minutes_late)
        return BookingRow(
            id=booking_id,
            tenant_id=tenant_id,
            client_id="client-1",
            lawyer_id=f"lawyer-{uuid.uuid4().hex[:6]}",
            mode="on_site",
            status="cancelled",
            start=begins,
            minutes=60,
            ends_at=begins + timedelta(minutes=60),
            blocked_from=begins,
            blocked_until=begins + timedelta(minutes=60),
            created_at=begins,
            address="旧地址",
            needs="旧需求",
            summary="旧纪要",
            cancel_reason=reason,
            quality={"rating": 3, "lawyer_note": "旧备注", "client_comment": "旧评价"},
        )

    async with platform.stores.db.transaction() as session:
        session.add(booking(ids["typed"], tenant, 0, "客户的原因"))
        session.add(booking(ids["expired"], tenant, 2, "hold_expired"))
        session.add(booking(ids["gone"], shredded, 4, "客户的原因"))
        session.add(
            VisitRow(
                id=ids["visit"],
                tenant_id=tenant,
                lawyer_user_id="lawyer-user",
                date="2026-12-01",
                attendees=["旧参会人"],
                findings="旧发现",
                follow_ups=["旧跟进"],
                created_at=start,
            )
        )
        session.add(
            ConnectRequestRow(
                id=ids["call"],
                tenant_id=tenant,
                client_id="client-1",
                lawyer_id=LAWYER,
                mode="call",
                needs="旧电话需求",
                status="queued",
                created_at=start,
            )
        )
    assert await seal_clear_rows(platform.stores.db, keys) >= 5
    assert await seal_clear_rows(platform.stores.db, keys) == 0
    typed, expired, gone = [await raw_row(platform, "bookings", ids[n]) for n in ("typed", "expired", "gone")]
    visit, call = (
        await raw_row(platform, "visits", ids["visit"]),
        await raw_row(platform, "connect_requests", ids["call"]),
    )
    assert "旧" not in repr([typed, expired, visit, call])
    assert expired["cancel_reason"] == "hold_expired"
    assert (gone["address"], gone["cancel_reason"], gone["quality"]["client_comment"]) == (ERASED_TEXT,) * 3
    opened = await platform.stores.bookings.get(None, ids["typed"])
    assert (opened.address, opened.needs, opened.summary, opened.cancel_reason, opened.quality) == (
        "旧地址",
        "旧需求",
        "旧纪要",
        "客户的原因",
        {"rating": 3, "lawyer_note": "旧备注", "client_comment": "旧评价"},
    )
    visits, _ = await platform.stores.visits.list_visits(
        Principal("supervisor-1", roles=frozenset({"supervisor"})), tenant, 10, ""
    )
    assert [(v.findings, v.attendees, v.follow_ups) for v in visits] == [("旧发现", ["旧参会人"], ["旧跟进"])]
