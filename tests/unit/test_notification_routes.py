"""The gateway's notification routes: preferences (R-PRIV-2) as JSON ⇄ proto with 422 problems naming the
field, deliveries, and the server-sent event stream of the inbox. The notification service is a small fake
returning real proto messages or raising real AioRpcErrors; no servers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import grpc
import httpx
import pytest

from counsel.notification.v1 import events_pb2 as notification_events_pb2
from counsel.notification.v1 import notification_service_pb2 as pb
from services.gateway.app import create_app
from services.gateway.clients import Clients
from services.gateway.config import GatewaySettings
from services.gateway.routes.notifications import InboxWaker, notification_events
from tests.support.factories import envelope
from tests.support.gateway import rpc_error
from tests.support.platform import gateway_clients
from tests.support.tokens import Issuer

PROBLEM = "application/problem+json"


class FakeNotification:
    """Just enough of NotificationService: preferences kept in memory, an inbox that grows on demand."""

    def __init__(self) -> None:
        self.prefs = pb.NotificationPreferences(in_app=True, email=True, sms=True, language="zh")
        self.inbox: list[pb.Notification] = []
        self.requests: list[Any] = []
        self.refuse: grpc.aio.AioRpcError | None = None

    async def GetPreferences(self, request: Any, **_: Any) -> pb.GetPreferencesResponse:
        return pb.GetPreferencesResponse(preferences=self.prefs)

    async def UpdatePreferences(self, request: pb.UpdatePreferencesRequest, **_: Any) -> Any:
        self.requests.append(request)
        if self.refuse is not None:
            raise self.refuse
        self.prefs = pb.NotificationPreferences()
        self.prefs.CopyFrom(request.preferences)
        if request.preferences.marketing_consent:
            self.prefs.marketing_consent_at.FromDatetime(datetime(2026, 11, 29, 8, tzinfo=UTC))
        return pb.UpdatePreferencesResponse(preferences=self.prefs)

    async def ListDeliveries(self, request: Any, **_: Any) -> pb.ListDeliveriesResponse:
        delivery = pb.Delivery(
            id="d1", channel="email", category="transactional", kind="order.paid", title="支付成功",
            status="ready", attempts=2, last_error="SMTP 451",
        )  # fmt: skip
        delivery.next_attempt_at.FromDatetime(datetime(2026, 11, 29, 8, 1, tzinfo=UTC))
        return pb.ListDeliveriesResponse(deliveries=[delivery])

    async def ListNotifications(self, request: Any, **_: Any) -> pb.ListNotificationsResponse:
        if self.refuse is not None:
            raise self.refuse
        newest_first = list(reversed(self.inbox))
        return pb.ListNotificationsResponse(notifications=newest_first, unread_count=len(self.inbox))


@pytest.fixture
def fake() -> FakeNotification:
    return FakeNotification()


def clients(fake: FakeNotification) -> Clients:
    return gateway_clients(notification=fake, notification_internal=fake)


@pytest.fixture
async def http(fake: FakeNotification, keys: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(GatewaySettings(env="test"), clients=clients(fake), verifier=keys.verifier())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway.test", headers=keys.headers()
    ) as client:
        yield client


PATH = "/api/v1/me/notification-preferences"
GOOD = {
    "channels": {"in_app": True, "email": True, "sms": False},
    "quiet_hours": {"start": "22:00", "end": "08:00", "time_zone": "Asia/Shanghai"},
    "marketing_consent": True,
    "language": "en",
    "email_address": "client@example.com",
}


async def test_preferences_round_trip_with_recorded_consent(
    http: httpx.AsyncClient, fake: FakeNotification
) -> None:
    response = await http.put(PATH, json=GOOD)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channels"] == {"in_app": True, "email": True, "sms": False}
    assert body["quiet_hours"] == GOOD["quiet_hours"]
    assert body["marketing_consent"] is True and body["marketing_consent_at"] == "2026-11-29T08:00:00Z"
    assert body["email_address"] == "client@example.com" and body["phone"] is None
    sent = fake.requests[0].preferences
    assert (sent.email, sent.sms, sent.quiet_hours.start, sent.language) == (True, False, "22:00", "en")
    assert (await http.get(PATH)).json() == body


async def test_no_quiet_hours_and_no_consent_by_omission(
    http: httpx.AsyncClient, fake: FakeNotification
) -> None:
    body = (await http.put(PATH, json={"channels": {"email": False, "sms": True}})).json()
    assert body["quiet_hours"] is None and body["marketing_consent"] is False
    assert body["marketing_consent_at"] is None
    assert not fake.requests[0].preferences.HasField("quiet_hours")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channels": {"in_app": False, "email": True, "sms": True}}, "channels.in_app"),
        ({"channels": {"email": "yes please", "sms": True}}, "channels.email"),
        ({"channels": {"email": True}}, "channels.sms"),
        ({"language": "fr"}, "language"),
        ({"quiet_hours": {"start": "22:00"}}, "quiet_hours.end"),
        ({"frequency": "daily"}, "frequency"),
    ],
)
async def test_bad_preferences_are_422_naming_the_field(
    http: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await http.put(PATH, json=GOOD | change)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_the_services_refusal_names_the_field_too(
    http: httpx.AsyncClient, fake: FakeNotification
) -> None:
    fake.refuse = rpc_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        "quiet_hours.time_zone: must be an IANA time zone",
        reason="invalid_argument",
        violations=(("quiet_hours.time_zone", "must be an IANA time zone"),),
    )
    response = await http.put(PATH, json=GOOD)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["quiet_hours.time_zone"]


async def test_preferences_need_a_signed_in_user(fake: FakeNotification, keys: Issuer) -> None:
    app = create_app(GatewaySettings(env="test"), clients=clients(fake), verifier=keys.verifier())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://g.test"
    ) as anonymous:
        assert (await anonymous.get(PATH)).status_code == 401
        assert (await anonymous.get("/api/v1/notifications/stream")).status_code == 401


async def test_deliveries_show_failed_sends_and_their_next_attempt(http: httpx.AsyncClient) -> None:
    (delivery,) = (await http.get("/api/v1/notifications/deliveries")).json()["items"]
    assert delivery["status"] == "ready" and delivery["attempts"] == 2
    assert delivery["last_error"] == "SMTP 451" and delivery["next_attempt_at"] == "2026-11-29T08:01:00Z"


def entry(n: int) -> pb.Notification:
    return pb.Notification(
        id=f"n{n}", kind="consultation.submitted", title=f"t{n}", body="b", category="status"
    )


def parse(chunks: list[str]) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for chunk in chunks:
        lines = dict(line.split(": ", 1) for line in chunk.strip().splitlines() if not line.startswith(":"))
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_the_stream_pushes_new_entries_and_unread_counts(fake: FakeNotification) -> None:
    fake.inbox = [entry(1)]
    polls = 0

    async def disconnected() -> bool:
        nonlocal polls
        polls += 1
        if polls == 2:  # between the first and the second poll, two notifications arrive
            fake.inbox += [entry(2), entry(3)]
        return polls > 3

    chunks = [c async for c in notification_events(clients(fake), disconnected, poll_seconds=0)]
    events = parse(chunks)
    assert events == [
        ("unread", {"unread_count": 1}),  # what was there before is not pushed again
        ("unread", {"unread_count": 3}),
        ("notification", events[2][1]),
        ("notification", events[3][1]),
    ]
    assert [e[1]["id"] for e in events[2:]] == ["n2", "n3"]  # oldest first
    assert any(c.startswith(": keep-alive") for c in chunks)


async def test_the_stream_ends_when_the_token_is_no_longer_accepted(fake: FakeNotification) -> None:
    fake.refuse = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAUTHENTICATED, grpc.aio.Metadata(), grpc.aio.Metadata(), details="expired"
    )

    async def never() -> bool:
        return False

    chunks = [c async for c in notification_events(clients(fake), never, poll_seconds=0)]
    assert parse(chunks) == [("end", {"reason": "sign in again"})]


async def test_a_woken_stream_reads_the_inbox_at_once_instead_of_waiting_for_its_poll(
    fake: FakeNotification,
) -> None:
    fake.inbox = [entry(1)]
    woken = asyncio.Event()
    stream = notification_events(clients(fake), _false, poll_seconds=3600, woken=woken)
    first = await asyncio.wait_for(anext(stream), 5)
    assert parse([first]) == [("unread", {"unread_count": 1})]
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # asleep until woken: the next poll is an hour away
    fake.inbox.append(entry(2))
    woken.set()
    assert parse([await asyncio.wait_for(waiting, 5)]) == [("unread", {"unread_count": 2})]
    pushed = parse([await asyncio.wait_for(anext(stream), 5)])
    assert pushed[0][0] == "notification" and pushed[0][1]["id"] == "n2"
    await stream.aclose()


async def _false() -> bool:
    return False


def test_the_waker_wakes_only_the_streams_of_the_user_an_inbox_entry_was_written_for() -> None:
    waker = InboxWaker()

    def sent(user_id: str, channel: str) -> Any:
        payload = notification_events_pb2.NotificationSent(
            notification_id="n", user_id=user_id, channel=channel
        )
        return SimpleNamespace(data=envelope("notification.sent", payload).SerializeToString())

    with waker.watch("alice") as alice, waker.watch("bob") as bob:
        asyncio.run(waker._on_event(sent("alice", "email")))  # an e-mail is not an inbox entry
        assert not alice.is_set()
        asyncio.run(waker._on_event(sent("alice", "in_app")))
        assert alice.is_set() and not bob.is_set()
        asyncio.run(waker._on_event(SimpleNamespace(data=b"\xff\xff")))  # garbage is ignored
    assert waker._watchers == {}
