"""Online calls through the gateway (§6.2.4.1, §6.2.4.4): the consultation service in-process over gRPC
(mTLS) on real PostgreSQL, two gateway processes' worth of app over real HTTP (uvicorn) relaying signalling
over real NATS. A client calls an online lawyer (an offline one is 409), the two parties' signalling
sockets on different gateways reach each other and nobody else (a third user's socket is closed with 4403
and counted), the lawyer accepts, either ends it, and the record (who, when, duration, outcome, the
consultation it belongs to) is kept and shown in the consultation's timeline."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.consultation.v1 import events_pb2
from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationServiceStub
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from deploy.local.servers import NatsServer, PostgresServer
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, TABLES
from services.consultation.server import ConsultationServicer
from services.consultation.store import ConsultationStores
from services.gateway.app import create_app
from services.gateway.call_signals import SignalRelay
from services.gateway.config import GatewaySettings
from services.runtime.context import Principal, current_principal
from services.runtime.errors import PermissionDenied
from services.runtime.events import Outbox, unpack
from services.runtime.keys import DataKeys, master_key
from services.runtime.pki import TlsMaterial
from tests.support.gateway import rpc_error
from tests.support.platform import (
    consultation_channel,
    gateway_clients,
    isolated_settings,
    migrated_databases,
    served,
)
from tests.support.tokens import Issuer

pytestmark = pytest.mark.integration

RECEIVE_SECONDS = 10.0
TENANT = "tenant-1"
ONLINE, OFFLINE, LAPSED = "lawyer-online", "lawyer-offline", "lawyer-lapsed"
# Why the catalog says LAPSED takes no new work although online (their standing, §6.2.4.1).
LAPSED_REASON = "the firm's agreement ended on 2025-01-01"
LAWYER_USER = "lawyer-user-1"
ICE_SERVERS = '[{"urls": ["stun:stun.counsel.test:3478"]}]'


class Catalog:
    """The catalog's side: one online and one offline lawyer (their online status is the catalog's), an online
    one whose standing lapsed, and the consultation products."""

    async def ListProducts(
        self, request: catalog_pb.ListProductsRequest, **_: Any
    ) -> catalog_pb.ListProductsResponse:
        assert request.category == "consultation"
        return catalog_pb.ListProductsResponse(
            products=[
                catalog_pb.Product(id="consult-professional", consultation_kind="professional"),
                catalog_pb.Product(id="consult-phone", name="电话法律咨询", consultation_kind="phone"),
            ]
        )

    async def GetLawyer(self, request: catalog_pb.GetLawyerRequest, **_: Any) -> catalog_pb.GetLawyerResponse:
        if request.lawyer_id not in (ONLINE, OFFLINE, LAPSED):
            raise rpc_error(grpc.StatusCode.NOT_FOUND, "no such lawyer")
        user = LAWYER_USER if request.lawyer_id == ONLINE else "lawyer-user-2"
        lawyer = catalog_pb.Lawyer(
            id=request.lawyer_id,
            user_id=user,
            active=True,
            online=request.lawyer_id != OFFLINE,
            unavailable_reason=LAPSED_REASON if request.lawyer_id == LAPSED else "",
        )
        return catalog_pb.GetLawyerResponse(lawyer=lawyer)


class Payments:
    """The payment service's side: each client's orders, scoped to the calling client as payment scopes
    orders to the caller's enterprise."""

    def __init__(self) -> None:
        self.orders: dict[str, payment_pb.Order] = {}

    def add(self, client_id: str, category: str, kind: str = "", status: str = "in_service") -> str:
        order_id = f"order-{uuid.uuid4().hex[:8]}"
        order = payment_pb.Order(
            id=order_id,
            tenant_id=TENANT,
            client_id=client_id,
            status=status,
            category=category,
            consultation_kind=kind,
        )
        order.created_at.GetCurrentTime()
        self.orders[order_id] = order
        return order_id

    def _mine(self) -> list[payment_pb.Order]:
        caller = current_principal()
        return [o for o in self.orders.values() if caller is not None and o.client_id == caller.user_id]

    async def GetOrder(self, request: payment_pb.GetOrderRequest, **_: Any) -> payment_pb.GetOrderResponse:
        for order in self._mine():
            if order.id == request.order_id:
                return payment_pb.GetOrderResponse(order=order)
        raise rpc_error(grpc.StatusCode.NOT_FOUND, "no such order")

    async def ListOrders(
        self, request: payment_pb.ListOrdersRequest, **_: Any
    ) -> payment_pb.ListOrdersResponse:
        return payment_pb.ListOrdersResponse(orders=[o for o in self._mine() if o.status == request.status])


@dataclass
class Platform:
    keys: Issuer
    a: str  # gateway addresses
    b: str
    stores: ConsultationStores
    payments: Payments

    def client(self) -> tuple[str, str]:
        user = f"client-{uuid.uuid4().hex[:8]}"
        return user, self.keys.token(user, roles=("client",), tenant_id=TENANT)

    def lawyer(self, user: str = LAWYER_USER) -> str:
        return self.keys.token(user, roles=("lawyer",), tenant_id="")


@pytest.fixture(scope="module")
async def platform(
    postgres_server: PostgresServer, nats_server: NatsServer, pki: Callable[[str], TlsMaterial]
) -> AsyncIterator[Platform]:
    settings = isolated_settings(postgres_server, nats_server, secret_key=secrets.token_urlsafe(32))
    keys = Issuer.for_settings(settings)
    async with contextlib.AsyncExitStack() as running:
        db = (await running.enter_async_context(migrated_databases(settings, "consultation")))["consultation"]
        stores = ConsultationStores.build(
            db, Outbox("consultation", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )
        payments = Payments()
        servicer = ConsultationServicer(stores, cast(Any, payments), catalog=cast(Any, Catalog()))
        channel = await running.enter_async_context(consultation_channel(servicer, keys.verifier(), pki))
        gateways = []
        for _ in range(2):  # two gateway processes' worth: own app, own NATS connection
            app = create_app(
                GatewaySettings.from_settings(settings).model_copy(
                    update={"webrtc_ice_servers": ICE_SERVERS}
                ),
                gateway_clients(consultation=ConsultationServiceStub(channel)),
                verifier=keys.verifier(),
            )
            relay = await SignalRelay.connect(settings)
            assert relay.over_bus
            running.push_async_callback(relay.close)
            app.state.call_signals = relay
            gateways.append(await running.enter_async_context(served(app)))
        yield Platform(keys, gateways[0], gateways[1], stores, payments)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def http(address: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://{address}", timeout=10.0) as client:
        yield client


@contextlib.asynccontextmanager
async def signal(address: str, call_id: str, token: str) -> AsyncIterator[ClientConnection]:
    async with connect(
        f"ws://{address}/api/v1/calls/{call_id}/signal",
        subprotocols=cast(Any, ["counsel.signal.v1", f"bearer.{token}"]),
    ) as ws:
        assert ws.subprotocol == "counsel.signal.v1"
        yield ws


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(await asyncio.wait_for(ws.recv(), RECEIVE_SECONDS)))


async def closed_with(address: str, call_id: str, token: str) -> int:
    async with connect(
        f"ws://{address}/api/v1/calls/{call_id}/signal", subprotocols=cast(Any, [f"bearer.{token}"])
    ) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), RECEIVE_SECONDS)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def refusals() -> float:
    return REGISTRY.get_sample_value("counsel_call_signal_refusals_total", {"reason": "not_a_party"}) or 0.0


async def test_only_an_online_lawyer_is_called_and_only_by_a_client(platform: Platform) -> None:
    _, client = platform.client()
    async with http(platform.a) as gateway:
        offline = await gateway.post(
            "/api/v1/calls", json={"lawyer_id": OFFLINE, "media": "audio"}, headers=auth(client)
        )
        assert offline.status_code == 409 and offline.json()["type"].endswith("/lawyer_offline")
        lapsed = await gateway.post(
            "/api/v1/calls", json={"lawyer_id": LAPSED, "media": "audio"}, headers=auth(client)
        )
        assert lapsed.status_code == 409 and lapsed.json()["type"].endswith("/not_assignable")
        assert lapsed.json()["detail"] == LAPSED_REASON
        unknown = await gateway.post(
            "/api/v1/calls", json={"lawyer_id": "nobody", "media": "audio"}, headers=auth(client)
        )
        assert unknown.status_code == 422
        assert [e["field"] for e in unknown.json()["errors"]] == ["lawyer_id"]
        bad_media = await gateway.post(
            "/api/v1/calls", json={"lawyer_id": ONLINE, "media": "fax"}, headers=auth(client)
        )
        assert bad_media.status_code == 422
        by_lawyer = await gateway.post(
            "/api/v1/calls", json={"lawyer_id": ONLINE, "media": "audio"}, headers=auth(platform.lawyer())
        )
        assert by_lawyer.status_code == 403


async def test_signalling_passes_between_the_two_parties_only_and_the_record_is_kept(
    platform: Platform,
) -> None:
    client_id, client = platform.client()
    _, stranger = platform.client()
    phone_order = platform.payments.add(client_id, "consultation", "phone")
    consultation = await platform.stores.consultations.create(
        Principal(client_id, TENANT, frozenset({"client"})),
        NewConsultation(
            "professional", "劳动合同", "公司拖欠工资两个月，我能解除合同并要求补偿吗？", "order-1"
        ),
        "",
    )
    consultation_id = consultation.view.row.id
    async with http(platform.a) as a, http(platform.b) as b:
        started = await a.post(
            "/api/v1/calls",
            json={"lawyer_id": ONLINE, "media": "video", "consultation_id": consultation_id},
            headers=auth(client),
        )
        assert started.status_code == 201, started.text
        call = started.json()
        assert (
            call["status"],
            call["media"],
            call["lawyer_id"],
            call["consultation_id"],
            call["order_id"],
        ) == ("ringing", "video", ONLINE, consultation_id, phone_order)
        call_id = call["id"]
        assert (await b.get(f"/api/v1/calls/{call_id}", headers=auth(platform.lawyer()))).status_code == 200
        assert (await b.get(f"/api/v1/calls/{call_id}", headers=auth(stranger))).status_code == 404
        other_lawyer = platform.lawyer("lawyer-user-2")
        ringing = await b.get("/api/v1/calls", params={"status": "ringing"}, headers=auth(platform.lawyer()))
        assert [c["id"] for c in ringing.json()["items"]] == [call_id]
        not_theirs = await b.get("/api/v1/calls", params={"status": "ringing"}, headers=auth(other_lawyer))
        assert not_theirs.json()["items"] == []
        assert (
            await b.post(f"/api/v1/calls/{call_id}/accept", headers=auth(other_lawyer))
        ).status_code == 404
        # Neither another client nor another lawyer may join the signalling, on either gateway.
        before = refusals()
        assert await closed_with(platform.a, call_id, stranger) == 4403
        assert await closed_with(platform.b, call_id, other_lawyer) == 4403
        assert refusals() == before + 2

        async with (
            signal(platform.a, call_id, client) as caller,
            signal(platform.b, call_id, platform.lawyer()) as callee,
        ):
            ice = [{"urls": ["stun:stun.counsel.test:3478"]}]
            assert await recv(caller) == {
                "type": "ready",
                "party": "client",
                "status": "ringing",
                "ice_servers": ice,
            }
            assert (await recv(callee))["party"] == "lawyer"
            await caller.send(json.dumps({"type": "join"}))
            assert await recv(callee) == {"type": "join", "from": "client"}
            offer = {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}
            await caller.send(json.dumps(offer))
            assert await recv(callee) == {**offer, "from": "client"}
            answer = {"type": "answer", "sdp": "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n", "extra": "dropped"}
            await callee.send(json.dumps(answer))
            assert await recv(caller) == {"type": "answer", "sdp": answer["sdp"], "from": "lawyer"}
            candidate = {
                "type": "candidate",
                "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"},
            }
            await callee.send(json.dumps(candidate))
            assert await recv(caller) == {**candidate, "from": "lawyer"}
            await caller.send("not json")
            assert (await recv(caller))["type"] == "error"
            await caller.send(json.dumps({"type": "chat", "body": "hi"}))
            assert (await recv(caller))["type"] == "error"

            accepted = await b.post(f"/api/v1/calls/{call_id}/accept", headers=auth(platform.lawyer()))
            assert accepted.status_code == 200 and accepted.json()["status"] == "connected"
            assert accepted.json()["started_at"] is not None
            ringing = await b.get("/api/v1/calls", headers=auth(platform.lawyer()))
            assert ringing.json()["items"] == []
            again = await b.post(f"/api/v1/calls/{call_id}/accept", headers=auth(platform.lawyer()))
            assert again.status_code == 409
            assert (
                await a.post(f"/api/v1/calls/{call_id}/end", json={"outcome": "x"}, headers=auth(stranger))
            ).status_code == 404
            ended = await a.post(
                f"/api/v1/calls/{call_id}/end",
                json={"outcome": "已解答，建议书面催告。"},
                headers=auth(client),
            )
            assert ended.status_code == 200, ended.text
        record = ended.json()
        assert (record["status"], record["ended_by"], record["outcome"]) == (
            "ended",
            "client",
            "已解答，建议书面催告。",
        )
        assert record["duration_seconds"] >= 0 and record["ended_at"] is not None
        assert (
            await a.post(f"/api/v1/calls/{call_id}/end", json={"outcome": "x"}, headers=auth(client))
        ).status_code == 409
        # Both parties read the same record; the signalling socket of an ended call closes at once.
        seen = (await b.get(f"/api/v1/calls/{call_id}", headers=auth(platform.lawyer()))).json()
        assert seen == record
        assert await closed_with(platform.a, call_id, client) == 4409

    view = await platform.stores.consultations.get(
        Principal(client_id, TENANT, frozenset({"client"})), consultation_id
    )
    assert [s.stage for s in view.stages if s.stage.startswith("online_call")] == [
        "online_call_connected",
        "online_call_ended",
    ]


@pytest.mark.parametrize(
    ("call_id", "message"), [("c" * 201, "at most 200 characters"), ("call%00id", "NUL character")]
)
async def test_a_malformed_call_id_is_refused_at_the_handshake_naming_it(
    platform: Platform, call_id: str, message: str
) -> None:
    """An oversized or unstorable call id is refused before anything else (even before the token is read) with
    422 problem+json naming `call_id`, instead of being cut short and looked up."""
    _, client = platform.client()
    for token in (client, "not-a-token"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                f"ws://{platform.a}/api/v1/calls/{call_id}/signal",
                subprotocols=cast(Any, ["counsel.signal.v1", f"bearer.{token}"]),
            ):
                pass
        response = refused.value.response
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        (error,) = json.loads(response.body)["errors"]
        assert error["field"] == "call_id" and message in error["message"]


async def test_a_call_is_paid_for_by_an_order_or_refused_naming_the_product_to_buy(
    platform: Platform,
) -> None:
    """§6.2.4.1, issue 24: never a free call by accident. Without a paid phone consultation order or retainer
    the call is 409 order_required naming the product to buy; a phone order pays for one call (used up while
    the call rings or once it was answered, given back by a call nobody answered), named or found; a retainer
    pays for any number; an order that pays for no call is refused when named."""
    client_id, client = platform.client()
    ring = {"lawyer_id": ONLINE, "media": "audio"}
    async with http(platform.a) as gateway:

        async def start(**extra: str) -> httpx.Response:
            return await gateway.post("/api/v1/calls", json={**ring, **extra}, headers=auth(client))

        async def end(call_id: str) -> None:
            ended = await gateway.post(
                f"/api/v1/calls/{call_id}/end", json={"outcome": "x"}, headers=auth(client)
            )
            assert ended.status_code == 200, ended.text

        def refused(response: httpx.Response) -> str:
            assert response.status_code == 409 and response.json()["type"].endswith("/order_required")
            (error,) = response.json()["errors"]
            assert error["field"] == "order_id" and "consult-phone" in error["message"], error
            assert response.json()["product_id"] == "consult-phone"
            return str(response.json()["detail"])

        refused(await start())
        text_order = platform.payments.add(client_id, "consultation", "professional")
        unpaid = platform.payments.add(client_id, "consultation", "phone", status="pending_payment")
        refused(await start())
        assert "not a paid phone consultation" in refused(await start(order_id=text_order))
        refused(await start(order_id=unpaid))
        refused(await start(order_id="order-of-someone-else"))

        phone = platform.payments.add(client_id, "consultation", "phone")
        first = await start()
        assert first.status_code == 201 and first.json()["order_id"] == phone, first.text
        assert "paid for a call already" in refused(await start(order_id=phone))
        refused(await start())
        await end(first.json()["id"])  # never answered: the order is given back
        again = await start(order_id=phone)
        assert again.status_code == 201 and again.json()["order_id"] == phone
        accepted = await gateway.post(
            f"/api/v1/calls/{again.json()['id']}/accept", headers=auth(platform.lawyer())
        )
        assert accepted.status_code == 200
        await end(again.json()["id"])  # answered: the order stays used up
        refused(await start())
        repeated = await gateway.post(
            f"/api/v1/calls/{again.json()['id']}/end", json={"outcome": "x"}, headers=auth(client)
        )
        assert repeated.status_code == 409

        retainer = platform.payments.add(client_id, "retainer")
        covered_calls = []
        for _ in range(2):
            covered = await start()
            assert covered.status_code == 201 and covered.json()["order_id"] == retainer, covered.text
            await end(covered.json()["id"])
            covered_calls.append(covered.json()["id"])
    # Each call's end is one `online_call.ended`; only the connected call's ends its phone order's fulfilment.
    assert await calls_ended(platform, client_id) == [
        (first.json()["id"], phone, False),
        (again.json()["id"], phone, True),
        *((call_id, retainer, False) for call_id in covered_calls),
    ]


async def calls_ended(platform: Platform, client_id: str) -> list[tuple[str, str, bool]]:
    """The client's `online_call.ended` events in the consultation outbox: (call, order, spent_order)."""
    async with platform.stores.online_calls.db.transaction() as session:
        payloads = await session.scalars(select(TABLES.outbox.c.payload).order_by(TABLES.outbox.c.seq))
        envelopes = [EventEnvelope.FromString(payload) for payload in payloads]
    ended = [unpack(e, events_pb2.OnlineCallEnded) for e in envelopes if e.type == "online_call.ended"]
    return [(e.call_id, e.order_id, e.spent_order) for e in ended if e.client_id == client_id]


async def test_an_orders_calls_are_listed_to_its_enterprise_its_lawyer_and_agents_only(
    platform: Platform,
) -> None:
    """The order's timeline asks ListOnlineCalls for the order's calls with the caller's token: its client
    enterprise, the called lawyer and agents see them, oldest first; another enterprise and another lawyer
    see none."""
    client_id, client = platform.client()
    order_id = platform.payments.add(client_id, "consultation", "phone")
    async with http(platform.a) as gateway:
        started = await gateway.post(
            "/api/v1/calls", json={"lawyer_id": ONLINE, "media": "audio"}, headers=auth(client)
        )
        assert started.status_code == 201, started.text
    call_id = started.json()["id"]

    async def calls_of(principal: Principal) -> list[str]:
        return [c.id for c in await platform.stores.online_calls.for_order(principal, order_id)]

    colleague = Principal("colleague", TENANT, frozenset({"client"}))
    assert await calls_of(colleague) == [call_id]
    assert await calls_of(Principal(LAWYER_USER, "", frozenset({"lawyer"}))) == [call_id]
    assert await calls_of(Principal("agent-1", "", frozenset({"agent"}))) == [call_id]
    assert await calls_of(Principal("other", "tenant-2", frozenset({"client"}))) == []
    assert await calls_of(Principal("lawyer-user-2", "", frozenset({"lawyer"}))) == []
    with pytest.raises(PermissionDenied):
        await calls_of(Principal("editor-1", "", frozenset({"editor"})))
