"""Phone consultations bridged through Alibaba Cloud's number privacy protection, against a stand-in that
follows its published API over real HTTP (tests/support/fake_aliyun_pls.py): the signed AXB binding of the
client's and the lawyer's own phones, its undoing when the agent ends the call, and the provider's receipt
pushes through the gateway's route → consultation over gRPC (mTLS) → real PostgreSQL: a push with a forged
credential changes nothing, a repeated one is harmless, and the talk time and recording the provider
reports are what the call record keeps (R-CON-3, §6.2.4.4)."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest

from counsel.consultation.v1.consultation_service_pb2_grpc import ConsultationInternalServiceStub
from deploy.local.servers import PostgresServer
from services.consultation.domain import NewConsultation
from services.consultation.models import DATA_KEYS, TABLES, LawyerProjectionRow
from services.consultation.server import ConsultationServicer
from services.consultation.store import ConsultationStores
from services.consultation.telephony_aliyun import AliyunNumberPrivacy, AliyunNumberPrivacyConfig
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.runtime.context import Principal
from services.runtime.errors import Unavailable
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from services.runtime.pki import TlsMaterial
from services.runtime.records import utcnow
from tests.support.fake_aliyun_pls import FakeNumberPrivacy
from tests.support.platform import (
    consultation_channel,
    gateway_clients,
    isolated_settings,
    migrated_databases,
)
from tests.support.tokens import Issuer

pytestmark = pytest.mark.integration

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
LAWYER = "lawyer-1"
PHONES = {CLIENT.user_id: "+8613800138000", LAWYER: "13900139000"}
POOL_KEY = "FC100000097080001"
TOKEN = secrets.token_urlsafe(24)
RECEIPTS = "/api/v1/telephony/receipts/aliyun_pls"


@dataclass
class Stack:
    stores: ConsultationStores
    provider: AliyunNumberPrivacy
    fake: FakeNumberPrivacy
    url: str
    gateway: httpx.AsyncClient


@pytest.fixture
def fake() -> Iterator[tuple[FakeNumberPrivacy, str]]:
    stand_in = FakeNumberPrivacy("LTAI-test", secrets.token_urlsafe(16), POOL_KEY)
    with stand_in.running() as url:
        yield stand_in, url


async def phone_of(user_id: str) -> str:
    """As identity's GetUser answers: the user's phone, in either accepted form."""
    return PHONES[user_id]


def provider_at(url: str, secret: str) -> AliyunNumberPrivacy:
    return AliyunNumberPrivacy(
        AliyunNumberPrivacyConfig("LTAI-test", secret, POOL_KEY, TOKEN, api_url=url), phone_of
    )


@pytest.fixture
async def stack(
    postgres_server: PostgresServer,
    unique_name: str,
    pki: Callable[[str], TlsMaterial],
    fake: tuple[FakeNumberPrivacy, str],
) -> AsyncIterator[Stack]:
    settings = isolated_settings(postgres_server, name=unique_name, secret_key=secrets.token_urlsafe(32))
    keys = Issuer.for_settings(settings)
    stand_in, url = fake
    provider = provider_at(url, stand_in.access_key_secret)
    async with contextlib.AsyncExitStack() as running:
        db = (await running.enter_async_context(migrated_databases(settings, "consultation")))["consultation"]
        stores = ConsultationStores.build(
            db, Outbox("consultation", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )
        await stores.lawyers.upsert_lawyer(
            LawyerProjectionRow(lawyer_id=LAWYER, fields=["labour"], updated_at=utcnow())
        )
        servicer = ConsultationServicer(stores, cast(Any, None), telephony=provider)
        channel = await running.enter_async_context(consultation_channel(servicer, keys.verifier(), pki))
        clients = gateway_clients(consultation_internal=ConsultationInternalServiceStub(channel))
        app = create_app(GatewaySettings.from_settings(settings), clients, verifier=keys.verifier())
        gateway = await running.enter_async_context(
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway", timeout=30)
        )
        yield Stack(stores, provider, stand_in, url, gateway)


async def phone_consultation(stores: ConsultationStores) -> str:
    new = NewConsultation("phone", "电话咨询", "公司拖欠了我两个月工资，我可以要求经济补偿吗？", "order-2")
    return (await stores.consultations.create(CLIENT, new, "")).view.row.id


async def push(
    stack: Stack, message_type: str, records: list[dict[str, Any]], token: str = TOKEN
) -> httpx.Response:
    return await stack.gateway.post(
        f"{RECEIPTS}/{message_type}",
        params={"token": token},
        content=json.dumps(records).encode(),
        headers={"content-type": "application/json"},
    )


async def test_a_request_with_a_bad_signature_is_refused_and_nothing_is_bridged(stack: Stack) -> None:
    consultation_id = await phone_consultation(stack.stores)
    with pytest.raises(Unavailable, match="SignatureDoesNotMatch"):
        await stack.stores.calls.start_call(
            AGENT, consultation_id, LAWYER, provider_at(stack.url, "not-the-secret")
        )
    assert stack.fake.refused == ["SignatureDoesNotMatch"] and stack.fake.bindings == {}
    view = await stack.stores.consultations.get(AGENT, consultation_id)
    assert view.calls == []


async def test_the_parties_are_bound_to_a_privacy_number_and_the_providers_receipts_make_the_record(
    stack: Stack,
) -> None:
    consultation_id = await phone_consultation(stack.stores)
    call = await stack.stores.calls.start_call(AGENT, consultation_id, LAWYER, stack.provider)
    [binding] = stack.fake.bindings.values()
    assert (binding.phone_a, binding.phone_b, binding.out_id) == ("13800138000", "13900139000", call.id)
    assert call.provider == "aliyun_pls"
    assert call.provider_call_id == f"{binding.subs_id}:{binding.secret_no}"

    first = stack.fake.call_report(binding.subs_id, "43612633712c0001", talk_seconds=95)
    # A push to a forged receipt URL, or naming another number pool, changes nothing.
    forged = await push(stack, "SecretReport", [first], token=TOKEN + "x")
    assert forged.status_code == 403 and forged.json()["type"].endswith("/bad_credential")
    other_pool = await push(stack, "SecretReport", [{**first, "pool_key": "FC-other"}])
    assert other_pool.status_code == 403
    assert (await push(stack, "SecretAsrReport", [first])).status_code == 403
    unknown = await stack.gateway.post(
        f"/api/v1/telephony/receipts/other/SecretReport?token={TOKEN}", content=b"[]"
    )
    assert unknown.status_code == 404
    untouched = (await stack.stores.consultations.get(AGENT, consultation_id)).calls[0]
    assert (untouched.duration_seconds, untouched.recording_ref) == (0, "")

    accepted = await push(stack, "SecretReport", [first])
    assert accepted.status_code == 200 and accepted.json()["code"] == 0
    again = await push(stack, "SecretReport", [first])  # the provider pushes again after a lost answer
    assert again.status_code == 200 and again.json()["code"] == 0
    second = stack.fake.call_report(binding.subs_id, "43612633712c0002", talk_seconds=30)
    assert (await push(stack, "SecretReport", [second, first])).status_code == 200
    reported = (await stack.stores.consultations.get(AGENT, consultation_id)).calls[0]
    assert reported.duration_seconds == 125  # both calls on the binding, each counted once
    assert reported.recording_ref == second["record_url"]

    recording = stack.fake.recording_report(binding.subs_id, "43612633712c0002")
    for _ in range(2):
        assert (await push(stack, "SecretRecording", [recording])).status_code == 200
    assert stack.fake.actions.count("QueryRecordFileDownloadUrl") == 2
    recorded = (await stack.stores.consultations.get(AGENT, consultation_id)).calls[0]
    assert recorded.recording_ref.startswith(
        "https://record.oss-cn-shanghai.aliyuncs.com/43612633712c0002.mp3"
    )

    ended = await stack.stores.calls.end_call(
        AGENT, consultation_id, call.id, "已解答工资问题。", stack.provider
    )
    assert not binding.bound and stack.fake.actions[-1] == "UnbindSubscription"
    # The provider's talk time, not the binding's lifetime, is the call's duration; the recording stays.
    assert (ended.status, ended.duration_seconds, ended.recording_ref) == (
        "ended",
        125,
        recorded.recording_ref,
    )
    view = await stack.stores.consultations.get(AGENT, consultation_id)
    reports = [s for s in view.stages if s.stage == "call_reported"]
    assert len(reports) == 3  # two calls and one recording, however often each was pushed
