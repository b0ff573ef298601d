"""The providers' server APIs over real HTTP against local stand-ins that check signatures the way the
providers do (tests/integration/fake_providers.py), with locally generated keys: WeChat Pay Native ordering
(`code_url` → a QR code; creating a WeChat payment is no longer 409) and the bank's query and refund,
through the payment service's store and refund dispatcher on real PostgreSQL (R-PAY-1, R-PAY-3)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from counsel.payment.v1 import payment_service_pb2 as pb
from deploy.local.servers import PostgresServer
from services.payment import domain
from services.payment.config import PaymentSettings
from services.payment.models import DATA_KEYS, TABLES, OrderRow, PaymentRow
from services.payment.providers.bank import BankConfig, BankProvider
from services.payment.providers.base import InvalidNotification, Notification, ProviderUnavailable
from services.payment.providers.wechat import WechatConfig, WechatProvider
from services.payment.refund_dispatcher import RefundDispatcher
from services.payment.server import PaymentServicer
from services.payment.store import PaymentStores
from services.payment.vouchers import VoucherSigner
from services.runtime.context import Principal, principal_var
from services.runtime.db import Database
from services.runtime.errors import Conflict
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys, master_key
from services.runtime.records import utcnow
from tests.support.factories import DOCUMENT_PRODUCT as PRODUCT
from tests.support.fake_providers import FakeBank, FakeWechatPay, rsa_pair
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal(user_id="u1", tenant_id="t1", roles=frozenset({"client"}))
API_V3_KEY = "0123456789abcdef0123456789abcdef"
MCH_ID = "1900000001"
MER_ID = "777290058110048"


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[str, str]]:
    return {name: rsa_pair() for name in ("merchant", "platform", "bank", "other")}


@pytest.fixture
def wechat_pay(keys: dict[str, tuple[str, str]]) -> Iterator[tuple[FakeWechatPay, str]]:
    fake = FakeWechatPay(MCH_ID, keys["merchant"][1], "MERCHANT1", keys["platform"][0], "PLATFORM1")
    with fake.running() as url:
        yield fake, url


@pytest.fixture
def bank(keys: dict[str, tuple[str, str]]) -> Iterator[tuple[FakeBank, str]]:
    fake = FakeBank(MER_ID, keys["merchant"][1], keys["bank"][0])
    with fake.running() as url:
        yield fake, url


def wechat(
    keys: dict[str, tuple[str, str]], url: str, *, merchant: str = "merchant", platform: str = "platform"
) -> WechatProvider:
    return WechatProvider(
        WechatConfig(
            MCH_ID,
            API_V3_KEY,
            {"PLATFORM1": keys[platform][1]},
            keys[merchant][0],
            "MERCHANT1",
            api_base=url,
            app_id="wx8888888888888888",
        )
    )


def bank_provider(
    keys: dict[str, tuple[str, str]], url: str, *, merchant: str = "merchant", bank_key: str = "bank"
) -> BankProvider:
    return BankProvider(
        BankConfig(
            MER_ID,
            keys[merchant][0],
            keys[bank_key][1],
            back_url=f"{url}/gateway/api/backTransReq.do",
            query_url=f"{url}/gateway/api/queryTrans.do",
        )
    )


# -- WeChat Pay Native ---------------------------------------------------------------------------------------
async def test_wechat_native_ordering_is_signed_and_answers_a_code_url(
    keys: dict[str, tuple[str, str]], wechat_pay: tuple[FakeWechatPay, str]
) -> None:
    fake, url = wechat_pay
    provider = wechat(keys, url)
    checkout = await provider.checkout("pay000001", 99900, "CNY", "合同审查", "https://x/notify", utcnow())
    assert checkout.qr_code.startswith("weixin://wxpay/bizpayurl?pr=") and fake.refused == []
    ordered = fake.orders["pay000001"]
    assert (
        ordered["amount"] == {"total": 99900, "currency": "CNY"}
        and ordered["notify_url"] == "https://x/notify"
    )
    assert ordered["description"] == "合同审查" and ordered["mchid"] == MCH_ID
    again = await provider.checkout("pay000001", 99900, "CNY", "合同审查", "https://x/notify", utcnow())
    assert again.qr_code == checkout.qr_code  # ordering again with the same out_trade_no


async def test_wechat_refuses_a_request_signed_with_another_key_and_a_forged_answer_is_not_believed(
    keys: dict[str, tuple[str, str]], wechat_pay: tuple[FakeWechatPay, str]
) -> None:
    fake, url = wechat_pay
    with pytest.raises(ProviderUnavailable):
        await wechat(keys, url, merchant="other").checkout(
            "pay000002", 100, "CNY", "s", "https://x/n", utcnow()
        )
    assert fake.refused == ["signature does not verify"]
    # WeChat Pay's answer checked against another platform key: not believed, even though it is a 200.
    with pytest.raises(ProviderUnavailable):
        await wechat(keys, url, platform="other").checkout(
            "pay000003", 100, "CNY", "s", "https://x/n", utcnow()
        )
    assert "pay000003" in fake.orders


# -- through the payment service ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaymentService:
    stores: PaymentStores
    db: Database
    settings: PaymentSettings


@pytest.fixture
async def service(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[PaymentService]:
    settings = isolated_settings(
        postgres_server, name=unique_name, settings_type=PaymentSettings, secret_key=secrets.token_urlsafe(32)
    )
    async with migrated_databases(settings, "payment", pool_size=4) as databases:
        db = databases["payment"]
        keys = DataKeys(db, master_key(settings), DATA_KEYS)
        yield PaymentService(PaymentStores.build(db, Outbox("payment", settings, TABLES), keys), db, settings)


async def new_order(stores: PaymentStores) -> str:
    created = await stores.orders.create(
        CLIENT, domain.new_order(PRODUCT, "", {}, {}), domain.DEFAULT_PAY_WITHIN, "", ""
    )
    return created.view.row.id


async def test_a_wechat_payment_is_created_with_its_code_url_and_qr_code(
    keys: dict[str, tuple[str, str]],
    wechat_pay: tuple[FakeWechatPay, str],
    service: PaymentService,
) -> None:
    fake, url = wechat_pay
    settings = service.settings
    servicer = PaymentServicer(
        service.stores, None, {"wechat": wechat(keys, url)}, VoucherSigner("s" * 32), settings
    )  # type: ignore[arg-type]
    order_id = await new_order(service.stores)
    token = principal_var.set(CLIENT)
    try:
        reply = await servicer.CreatePayment(
            pb.CreatePaymentRequest(order_id=order_id, method="wechat", idempotency_key="k-1"),
            None,  # type: ignore[arg-type]
        )
        again = await servicer.CreatePayment(
            pb.CreatePaymentRequest(order_id=order_id, method="wechat", idempotency_key="k-1"),
            None,  # type: ignore[arg-type]
        )
    finally:
        principal_var.reset(token)
    payment = reply.payment
    assert payment.method == "wechat" and payment.status == "created" and again.payment.id == payment.id
    assert payment.qr_code == fake.orders[payment.id]["code_url"] and payment.qr_png.startswith(b"\x89PNG")
    assert fake.orders[payment.id]["notify_url"] == settings.notify_url("wechat")

    # Without WeChat Pay's consent (a refused request), no payment is created and the client gets a 409.
    broken = PaymentServicer(
        service.stores,
        None,
        {"wechat": wechat(keys, url, merchant="other")},
        VoucherSigner("s" * 32),
        settings,
    )  # type: ignore[arg-type]
    other_order = await new_order(service.stores)
    token = principal_var.set(CLIENT)
    try:
        with pytest.raises(Conflict):
            await broken.CreatePayment(pb.CreatePaymentRequest(order_id=other_order, method="wechat"), None)  # type: ignore[arg-type]
    finally:
        principal_var.reset(token)
    async with service.db.transaction() as session:
        count = (
            await session.execute(
                text("SELECT count(*) FROM payments WHERE order_id = :o"), {"o": other_order}
            )
        ).scalar()
    assert count == 0


# -- bank query and refund -----------------------------------------------------------------------------------
async def test_the_bank_query_reads_the_banks_signed_record(
    keys: dict[str, tuple[str, str]], bank: tuple[FakeBank, str]
) -> None:
    fake, url = bank
    query_id = fake.paid("pay-b1", 99900)
    fake.paid("pay-b2", 500, status="04")  # still in progress at the bank
    provider = bank_provider(keys, url)
    paid = await provider.query("pay-b1", utcnow())
    assert paid is not None and (paid.status, paid.amount_fen, paid.provider_txn_id) == (
        "paid",
        99900,
        query_id,
    )
    pending = await provider.query("pay-b2", utcnow())
    assert pending is not None and pending.status == "pending"
    assert await provider.query("pay-unknown", utcnow()) is None
    with pytest.raises(InvalidNotification):  # an answer that is not provably the bank's
        await bank_provider(keys, url, bank_key="other").query("pay-b1", utcnow())
    with pytest.raises(ProviderUnavailable):  # the bank refuses a request signed with another key
        await bank_provider(keys, url, merchant="other").query("pay-b1", utcnow())
    assert fake.refused == ["/gateway/api/queryTrans.do: signature"]


async def test_bank_refunds_go_out_signed_and_a_refusal_is_reversed_in_the_ledger(
    keys: dict[str, tuple[str, str]], bank: tuple[FakeBank, str], service: PaymentService
) -> None:
    fake, url = bank
    stores = service.stores
    order_id = await new_order(stores)
    payment_id = f"bank{order_id[:20]}"
    async with service.db.transaction() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
        session.add(
            PaymentRow(
                id=payment_id,
                order_id=order_id,
                tenant_id=row.tenant_id,
                method="bank",
                status="created",
                amount_fen=row.amount_fen,
                created_at=row.created_at,
            )
        )
    query_id = fake.paid(payment_id, 99900)
    note = Notification(f"{query_id}:00", payment_id, query_id, 99900, "CNY", "paid")
    assert await stores.payments.apply_notification("bank", note) == "applied"
    await stores.refunds.refund_order(None, order_id, 30000, "partial", "")
    dispatcher = RefundDispatcher(stores.refunds, {"bank": bank_provider(keys, url)})
    assert await dispatcher.dispatch_once() == 1
    assert [(r["origQryId"], r["txnAmt"], r["txnType"]) for r in fake.refunds] == [(query_id, "30000", "04")]
    # The bank refuses a refund beyond what is left at its end (e.g. refunded there by hand meanwhile).
    fake.trades[payment_id]["refunded"] = 95000
    await stores.refunds.refund_order(None, order_id, 10000, "second", "")
    assert await dispatcher.dispatch_once() == 1
    async with service.db.transaction() as session:
        statuses = (
            await session.execute(text("SELECT string_agg(status, ',' ORDER BY amount_fen) FROM refunds"))
        ).scalar()
    assert statuses == "failed,succeeded"
    balances = await stores.ledger.balances()
    assert balances["cash:bank"] == 99900 - 30000  # the refused 10000 never left
    assert (await stores.orders.get(None, order_id)).row.refunded_fen == 30000
    assert (await stores.ledger.verify()).valid

    # Signed with the wrong key, the bank answers "signature failed": that is not a refusal of the refund, so
    # it stays requested and is sent again later.
    await stores.refunds.refund_order(None, order_id, 100, "third", "")
    assert (
        await RefundDispatcher(
            stores.refunds, {"bank": bank_provider(keys, url, merchant="other")}
        ).dispatch_once()
        == 0
    )
    async with service.db.transaction() as session:
        waiting = (await session.execute(text("SELECT status FROM refunds WHERE amount_fen = 100"))).scalar()
    assert waiting == "requested"
