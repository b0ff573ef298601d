"""Instant chat (R-CS-1, R-CON-1) and purchase intent (R-CS-2) end to end on real PostgreSQL and NATS: the
consultation and catalog services run in-process over gRPC, the consultation outbox is relayed to
JetStream, and two gateway app instances serve WebSockets over real HTTP (uvicorn) — a message written
through one gateway reaches a socket on the other only through NATS (their poll is 20 s; every wait below
is bounded by RECEIVE_SECONDS and the sockets would miss it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
import jwt
import pytest
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from counsel.catalog.v1 import events_pb2 as catalog_events
from counsel.catalog.v1.catalog_service_pb2_grpc import (
    CatalogServiceStub,
)
from counsel.consultation.v1.consultation_service_pb2_grpc import (
    ConsultationServiceStub,
)
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.payment.v1 import events_pb2 as payment_events
from deploy.local.servers import NatsServer, PostgresServer
from services.consultation import events as consultation_events
from services.consultation.events import HandlerContext
from services.consultation.faq import FaqSource
from services.consultation.main import catalog_faq
from services.consultation.models import DATA_KEYS, TABLES
from services.consultation.server import ConsultationServicer
from services.consultation.store import ConsultationStores
from services.gateway.app import create_app
from services.gateway.chat_waker import ChatWaker
from services.gateway.config import GatewaySettings
from services.runtime.config import Settings
from services.runtime.events import DurableConsumer, EventBus, Outbox, OutboxRelay, bind
from services.runtime.grpc_client import open_channel
from services.runtime.keys import DataKeys, master_key
from services.runtime.pki import TlsMaterial
from services.runtime.service import cancel_all
from tests.support.factories import envelope
from tests.support.platform import (
    catalog_service,
    consultation_channel,
    gateway_clients,
    isolated_settings,
    migrated_databases,
    served,
)
from tests.support.tokens import Issuer

RECEIVE_SECONDS = 10.0
LABOUR_QUESTION = "公司拖欠我三个月工资，现在要辞退我，我该怎么办？"
PRICE_QUESTION = "咨询律师要多少钱？"


class Activity:
    """Identity's side of the agent view (its ListUserActivity is tested with identity): one page view."""

    async def ListUserActivity(
        self, request: identity_pb.ListUserActivityRequest, **_: Any
    ) -> identity_pb.ListUserActivityResponse:
        return identity_pb.ListUserActivityResponse(
            activities=[
                identity_pb.Activity(
                    id="a1", kind="product.viewed", source="catalog", subject_id="product-consult-24h"
                )
            ]
        )


@dataclass
class Gateway:
    url: str
    http: httpx.AsyncClient


@dataclass
class Platform:
    keys: Issuer
    a: Gateway
    b: Gateway
    bus: EventBus
    settings: Settings

    def client(self, n: int = 0, tenant: str = "tenant-1") -> str:
        """A new client of `tenant` (a fresh user, so tests do not share conversations)."""
        return self.keys.token(f"client-{uuid.uuid4().hex[:8]}-{n}", roles=("client",), tenant_id=tenant)

    def agent(self) -> str:
        return self.keys.token(f"agent-{uuid.uuid4().hex[:6]}", roles=("agent",), tenant_id="")


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def subject_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


@pytest.fixture(scope="module")
def settings(postgres_server: PostgresServer, nats_server: NatsServer) -> Settings:
    return isolated_settings(postgres_server, nats_server, secret_key=secrets.token_urlsafe(32))


@pytest.fixture(scope="module")
async def platform(settings: Settings, pki: Callable[[str], TlsMaterial]) -> AsyncIterator[Platform]:
    keys = Issuer.for_settings(settings)
    async with contextlib.AsyncExitStack() as running:
        # The catalog with its demo content: the approved FAQ entries the chat answers from.
        catalog_address, _ = await running.enter_async_context(
            catalog_service(settings, keys.verifier(), pki("catalog"))
        )
        catalog_channel = await running.enter_async_context(
            open_channel(catalog_address, pki("consultation"), default_timeout=10.0)
        )
        # The gateway's own channel: an agent's view of a client shows their enterprise's next purchases.
        gateway_catalog = CatalogServiceStub(
            await running.enter_async_context(
                open_channel(catalog_address, pki("gateway"), default_timeout=10.0)
            )
        )
        db = (await running.enter_async_context(migrated_databases(settings, "consultation")))["consultation"]
        outbox = Outbox("consultation", settings, TABLES)
        bus = await EventBus.connect(settings, "chat-test")
        running.push_async_callback(bus.close)
        stores = ConsultationStores.build(db, outbox, DataKeys(db, master_key(settings), DATA_KEYS))
        servicer = ConsultationServicer(
            stores,
            cast(Any, None),
            faq=FaqSource(catalog_faq(cast(Any, CatalogServiceStub(catalog_channel)))),
        )
        channel = await running.enter_async_context(consultation_channel(servicer, keys.verifier(), pki))
        background = [
            asyncio.create_task(OutboxRelay(db, outbox, bus).run()),
            asyncio.create_task(
                DurableConsumer(
                    "chatit-intent",
                    bus,
                    db,
                    TABLES,
                    bind(consultation_events.TABLE["intent-signals"], cast(HandlerContext, None)),
                ).run()
            ),
        ]
        running.push_async_callback(cancel_all, background, "test")
        gateways = []
        for _ in range(2):  # two gateway processes' worth: own app, own NATS subscription
            clients = gateway_clients(
                identity=Activity(), consultation=ConsultationServiceStub(channel), catalog=gateway_catalog
            )
            app = create_app(GatewaySettings.from_settings(settings), clients, verifier=keys.verifier())
            waker = await ChatWaker.connect(settings)
            assert waker is not None
            running.push_async_callback(waker.close)
            app.state.chat_waker = waker
            gateway_address = await running.enter_async_context(served(app))
            http = await running.enter_async_context(
                httpx.AsyncClient(base_url=f"http://{gateway_address}", timeout=10.0)
            )
            gateways.append(Gateway(f"ws://{gateway_address}", http))
        yield Platform(keys, gateways[0], gateways[1], bus, settings)


class Socket:
    """A chat WebSocket with a bounded receive."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def recv(self) -> dict[str, Any]:
        return cast(dict[str, Any], json.loads(await asyncio.wait_for(self.ws.recv(), RECEIVE_SECONDS)))

    async def until(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next frame of `kind` whose fields equal `match`, skipping others."""
        while True:
            frame = await self.recv()
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    async def send(self, **frame: Any) -> None:
        await self.ws.send(json.dumps(frame, ensure_ascii=False))


@contextlib.asynccontextmanager
async def socket(gateway: Gateway, token: str, **query: Any) -> AsyncIterator[Socket]:
    params = "&".join(f"{k}={v}" for k, v in query.items())
    async with connect(
        f"{gateway.url}/api/v1/chat?{params}", subprotocols=cast(Any, ["counsel.chat.v1", f"bearer.{token}"])
    ) as ws:
        assert ws.subprotocol == "counsel.chat.v1"  # the token is never echoed back
        yield Socket(ws)


# --- FAQ answer or the queue (R-CS-1, R-CON-1) -------------------------------------------------------------


async def test_a_general_question_gets_an_faq_answer_at_once_and_a_legal_one_joins_the_queue(
    platform: Platform,
) -> None:
    def answered(by: str) -> float:
        return REGISTRY.get_sample_value("counsel_chat_answers_total", {"by": by}) or 0.0

    before = answered("faq"), answered("queue")
    client = platform.client()
    async with socket(platform.a, client) as chat:
        ready = await chat.recv()
        assert ready == {"type": "ready", "conversation": None, "after": 0}
        await chat.send(type="message", body=PRICE_QUESTION, client_message_id="m1")
        ack = await chat.until("ack")
        assert ack["seq"] == 1 and ack["client_message_id"] == "m1"
        mine = await chat.until("message")
        assert (mine["seq"], mine["author_role"], mine["body"]) == (1, "client", PRICE_QUESTION)
        answer = await chat.until("message")
        assert answer["seq"] == 2 and answer["author_role"] == "faq"
        assert answer["faq_article_id"] == "faq-consultation-price" and answer["faq_score"] >= 0.2
        assert "价格" in answer["body"]

        await chat.send(type="message", body=LABOUR_QUESTION, client_message_id="m2")
        assert (await chat.until("message"))["body"] == LABOUR_QUESTION
        notice = await chat.until("message")
        assert notice["author_role"] == "system" and "人工客服" in notice["body"]
        assert (await chat.until("status"))["status"] == "queued"
    assert (answered("faq"), answered("queue")) == (before[0] + 1, before[1] + 1)

    queue = await platform.b.http.get("/api/v1/chat/queue", headers=auth(platform.agent()))
    assert queue.status_code == 200, queue.text
    waiting = [c for c in queue.json()["items"] if c["client_id"] == subject_of(client)]
    assert waiting and waiting[0]["status"] == "queued"
    # what the agent sees of the client (R-CS-2): activity and a purchase-intent prediction with reasons
    assert waiting[0]["client_activity"][0]["kind"] == "product.viewed"
    intent = waiting[0]["purchase_intent"]
    assert intent["level"] in ("low", "medium", "high")
    assert any("prices" in reason for reason in intent["reasons"]), intent


async def test_a_client_can_ask_for_a_person_straight_away(platform: Platform) -> None:
    client = platform.client()
    posted = await platform.a.http.post(
        "/api/v1/chat/messages", json={"body": PRICE_QUESTION, "request_agent": True}, headers=auth(client)
    )
    assert posted.status_code == 201, posted.text
    assert [m["author_role"] for m in posted.json()["messages"]] == ["client", "system"]
    assert posted.json()["conversation"]["status"] == "queued"


# --- fan-out over NATS, agent pickup ---------------------------------------------------------------------


async def test_messages_fan_out_over_nats_between_two_gateways_and_an_agent_picks_up(
    platform: Platform,
) -> None:
    client, agent = platform.client(), platform.agent()
    async with socket(platform.a, client) as on_a:
        await on_a.recv()  # ready
        await on_a.send(type="message", body=LABOUR_QUESTION, request_agent=True)
        conversation_id = (await on_a.until("ack"))["conversation_id"]
        await on_a.until("status", status="queued")

        async with socket(platform.b, agent, conversation_id=conversation_id) as on_b:
            ready = await on_b.recv()
            assert ready["conversation"]["status"] == "queued"
            history = [await on_b.until("message"), await on_b.until("message")]
            assert [m["seq"] for m in history] == [1, 2]

            await on_b.send(type="pickup")
            picked = await on_a.until("message", author_role="system", seq=3)  # reached gateway A via NATS
            assert "客服已接入" in picked["body"]
            assert (await on_a.until("status"))["status"] == "active"

            await on_b.send(type="message", body="您好，请问劳动合同是哪年签的？")
            reply = await on_a.until("message", author_role="agent")
            assert reply["author_id"] == subject_of(agent) and reply["seq"] == 4

            await on_a.send(type="message", body="2023年签的，三年期。")
            answer = await on_b.until("message", author_role="client", seq=5)
            assert answer["body"] == "2023年签的，三年期。"

            # Another agent cannot take it over or write in it.
            other = platform.agent()
            taken = await platform.a.http.post(
                f"/api/v1/chat/conversations/{conversation_id}/pickup", headers=auth(other)
            )
            assert taken.status_code == 409 and taken.json()["type"].endswith("/already_picked_up")
            intruding = await platform.a.http.post(
                "/api/v1/chat/messages",
                json={"conversation_id": conversation_id, "body": "hi"},
                headers=auth(other),
            )
            assert intruding.status_code == 409

            await on_b.send(type="close")
            assert (await on_a.until("status", status="closed"))["conversation_id"] == conversation_id
    stored = await platform.b.http.get(
        f"/api/v1/chat/conversations/{conversation_id}/messages", headers=auth(client)
    )
    assert [m["seq"] for m in stored.json()["messages"]] == [1, 2, 3, 4, 5, 6]


async def test_an_agents_queue_socket_shows_new_work_from_any_gateway(platform: Platform) -> None:
    client, agent = platform.client(), platform.agent()
    async with socket(platform.b, agent) as queue:
        assert (await queue.recv())["type"] == "ready"
        first = await queue.until("queue")
        assert all(item["status"] in ("queued", "active") for item in first["items"])
        posted = await platform.a.http.post(
            "/api/v1/chat/messages", json={"body": LABOUR_QUESTION}, headers=auth(client)
        )
        conversation_id = posted.json()["conversation"]["id"]
        while True:  # pushed through NATS from gateway A's client (the poll is 20 s)
            items = (await queue.until("queue"))["items"]
            mine = [item for item in items if item["id"] == conversation_id]
            if mine:
                break
        assert mine[0]["status"] == "queued" and mine[0]["purchase_intent"]["reasons"]
        await queue.send(type="pickup")
        assert (await queue.until("error"))["errors"][0]["field"] == "type"


# --- disconnect and reconnect lose nothing -------------------------------------------------------------


async def test_a_reconnecting_client_gets_what_it_missed_and_a_resend_is_stored_once(
    platform: Platform,
) -> None:
    client, agent = platform.client(), platform.agent()
    async with socket(platform.a, client) as chat:
        await chat.recv()
        await chat.send(type="message", body=LABOUR_QUESTION, client_message_id="q-1", request_agent=True)
        conversation_id = (await chat.until("ack"))["conversation_id"]
        last_seen = (await chat.until("message", author_role="system"))["seq"]
    assert last_seen == 2

    # While the client is away, an agent picks up and writes twice (through the other gateway).
    assert (
        await platform.b.http.post(
            f"/api/v1/chat/conversations/{conversation_id}/pickup", headers=auth(agent)
        )
    ).status_code == 200
    for text in ("第一条回复", "第二条回复"):
        sent = await platform.b.http.post(
            "/api/v1/chat/messages",
            json={"conversation_id": conversation_id, "body": text},
            headers=auth(agent),
        )
        assert sent.status_code == 201, sent.text

    async with socket(platform.b, client, after=last_seen) as chat:
        ready = await chat.recv()
        assert ready["conversation"]["id"] == conversation_id and ready["after"] == 2
        missed = [await chat.until("message") for _ in range(3)]
        assert [(m["seq"], m["author_role"]) for m in missed] == [(3, "system"), (4, "agent"), (5, "agent")]
        assert [m["body"] for m in missed[1:]] == ["第一条回复", "第二条回复"]
        # The client did not know whether its first message arrived: the resend is recognised.
        await chat.send(type="message", body=LABOUR_QUESTION, client_message_id="q-1")
        assert (await chat.until("ack"))["seq"] == 1
        await chat.send(type="ping")
        assert (await chat.until("pong")) == {"type": "pong"}
    stored = await platform.a.http.get(
        f"/api/v1/chat/conversations/{conversation_id}/messages", params={"after": 0}, headers=auth(client)
    )
    assert [m["seq"] for m in stored.json()["messages"]] == [1, 2, 3, 4, 5]


async def test_after_closing_the_next_message_starts_a_new_conversation_on_the_same_socket(
    platform: Platform,
) -> None:
    client = platform.client()
    async with socket(platform.a, client) as chat:
        await chat.recv()
        await chat.send(type="message", body=PRICE_QUESTION)
        first = (await chat.until("ack"))["conversation_id"]
        await chat.until("message", author_role="faq")
        await chat.send(type="close")
        await chat.until("status", status="closed")
        await chat.send(type="message", body="怎么预约律师见面")
        ack = await chat.until("ack")
        assert ack["conversation_id"] != first and ack["seq"] == 1
        mine = await chat.until("message")
        assert (mine["conversation_id"], mine["seq"]) == (ack["conversation_id"], 1)
        assert (await chat.until("message"))["faq_article_id"] == "faq-booking"


# --- tenancy, roles and bad input ------------------------------------------------------------------------


async def test_another_enterprises_conversation_is_invisible(platform: Platform) -> None:
    owner = platform.client()
    posted = await platform.a.http.post(
        "/api/v1/chat/messages", json={"body": PRICE_QUESTION}, headers=auth(owner)
    )
    conversation_id = posted.json()["conversation"]["id"]
    outsider = platform.client(tenant="tenant-2")
    colleague = platform.client(tenant="tenant-1")  # same enterprise, another person: not theirs either
    for token in (outsider, colleague):
        read = await platform.a.http.get(
            f"/api/v1/chat/conversations/{conversation_id}/messages", headers=auth(token)
        )
        assert read.status_code == 404, read.text
        wrote = await platform.a.http.post(
            "/api/v1/chat/messages",
            json={"conversation_id": conversation_id, "body": "x"},
            headers=auth(token),
        )
        assert wrote.status_code == 404
        closed = await platform.a.http.post(
            f"/api/v1/chat/conversations/{conversation_id}/close", headers=auth(token)
        )
        assert closed.status_code == 404
    async with socket(platform.a, outsider, conversation_id=conversation_id) as chat:
        refused = await chat.recv()
        assert refused["type"] == "error" and refused["status"] == 404
        with pytest.raises(ConnectionClosed):
            await chat.recv()
    # The outsider's own chat does not see the owner's conversation either.
    async with socket(platform.a, outsider) as chat:
        assert (await chat.recv())["conversation"] is None


async def test_sockets_refuse_missing_tokens_other_roles_and_bad_input(platform: Platform) -> None:
    """Refusals on the chat socket are frames naming the field, never a broken socket (R-CS-1, R-OPS-3)."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{platform.a.url}/api/v1/chat"):
            pass
    assert refused.value.response.status_code == 403  # closed before the handshake (4401 in ASGI)
    lawyer = platform.keys.token("lawyer-1", roles=("lawyer",), tenant_id="")
    with pytest.raises(InvalidStatus):
        async with connect(f"{platform.a.url}/api/v1/chat", additional_headers=auth(lawyer)):
            pass
    client = platform.client()
    async with connect(f"{platform.a.url}/api/v1/chat?after=-1", additional_headers=auth(client)) as ws:
        frame = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_SECONDS))
        assert frame["type"] == "error" and frame["errors"][0]["field"] == "after"
    # Beyond the `integer` seq column, and a conversation id PostgreSQL cannot hold (issue 17, item 6).
    for query in (f"after={2**31}", "conversation_id=c%00"):
        async with connect(f"{platform.a.url}/api/v1/chat?{query}", additional_headers=auth(client)) as ws:
            frame = json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_SECONDS))
            assert frame["status"] == 422 and frame["errors"][0]["field"] == query.split("=")[0], frame
    agent = platform.agent()
    async with socket(platform.a, client) as chat:
        await chat.recv()
        await chat.send(type="message", body="   ")
        assert (await chat.until("error"))["errors"][0]["field"] == "body"
        await chat.send(type="dance")
        assert (await chat.until("error"))["errors"][0]["field"] == "type"
        await chat.ws.send("not json")
        assert (await chat.until("error"))["status"] == 400
        await chat.send(type="message", body="x" * 4001)
        too_long = await chat.until("error")
        assert too_long["status"] == 422 and too_long["errors"][0]["field"] == "body"
        await chat.send(type="message", body="a\u0000b")  # PostgreSQL text refuses NUL
        nul = await chat.until("error")
        assert nul["status"] == 422 and nul["errors"][0]["field"] == "body"
        await chat.ws.send('{"type": "message", "body": "\\ud800"}')  # a lone surrogate has no UTF-8
        assert (await chat.until("error"))["errors"][0]["field"] == "body"
        await chat.send(type="ping")
        await chat.until("pong")  # still open after refused frames
    empty = await platform.a.http.post("/api/v1/chat/messages", json={"body": ""}, headers=auth(client))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    bad_status = await platform.a.http.get("/api/v1/chat/queue", params={"status": "x"}, headers=auth(agent))
    assert bad_status.status_code == 422


# --- purchase intent from browsing and orders (R-CS-2) -----------------------------------------------------


async def _publish(platform: Platform, event_type: str, service: str, payload: Any) -> None:
    event = envelope(event_type, payload, tenant_id="tenant-1")
    await platform.bus.publish(
        platform.settings.subject(f"{service}.{event_type}"), event.SerializeToString(), event.id
    )


async def test_browsing_and_an_unpaid_order_raise_the_purchase_intent_agents_see(platform: Platform) -> None:
    client = platform.client()
    client_id = subject_of(client)
    agent = platform.agent()
    before = await platform.a.http.get(f"/api/v1/chat/clients/{client_id}/insight", headers=auth(agent))
    assert before.status_code == 200, before.text
    assert before.json()["purchase_intent"]["level"] == "low"
    for _ in range(3):
        await _publish(
            platform,
            "product.viewed",
            "catalog",
            catalog_events.ItemViewed(kind="product", item_id="product-consult-24h", user_id=client_id),
        )
    await _publish(
        platform, "order.created", "payment", payment_events.OrderCreated(order_id="o-1", client_id=client_id)
    )
    deadline = time.monotonic() + RECEIVE_SECONDS
    while True:  # the durable consumer records the events asynchronously
        after = (
            await platform.a.http.get(f"/api/v1/chat/clients/{client_id}/insight", headers=auth(agent))
        ).json()["purchase_intent"]
        if after["level"] == "high" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert after["level"] == "high", after
    assert after["reasons"][0] == "1 order(s) created but not paid"
    assert "came back to product product-consult-24h 3 times" in after["reasons"]
    assert (
        await platform.a.http.get(f"/api/v1/chat/clients/{client_id}/insight", headers=auth(client))
    ).status_code == 403

    # The agent finds the client among the leads and follows up; the client reads it in their chat.
    leads = await platform.b.http.get("/api/v1/chat/leads", params={"min_level": "high"}, headers=auth(agent))
    assert leads.status_code == 200, leads.text
    lead = next(item for item in leads.json()["items"] if item["purchase_intent"]["client_id"] == client_id)
    assert lead["tenant_id"] == "tenant-1" and lead["open_conversation_id"] is None
    assert all(item["purchase_intent"]["level"] == "high" for item in leads.json()["items"])
    offer = "您好，看到您在了解 24 小时专业咨询，现在下单可以为您优先安排律师。"
    started = await platform.b.http.post(
        f"/api/v1/chat/clients/{client_id}/conversations", json={"body": offer}, headers=auth(agent)
    )
    assert started.status_code == 201, started.text
    assert started.json()["conversation"]["status"] == "active"
    async with socket(platform.a, client) as chat:
        ready = await chat.recv()
        assert ready["conversation"]["id"] == started.json()["conversation"]["id"]
        first = await chat.until("message")
        assert (first["author_role"], first["body"]) == ("agent", offer)
        await chat.send(type="message", body="好的，请问怎么下单？")
        await chat.until("message", author_role="client")
    unknown = await platform.b.http.post(
        "/api/v1/chat/clients/never-seen/conversations", json={"body": offer}, headers=auth(agent)
    )
    assert unknown.status_code == 404
    bad = await platform.b.http.get("/api/v1/chat/leads", params={"min_level": "huge"}, headers=auth(agent))
    assert bad.status_code == 422
