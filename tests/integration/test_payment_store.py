"""The payment service's store and servicer against real PostgreSQL, migrated to head (R-PAY-2..4):
idempotent order creation, notifications verified and applied exactly once under concurrent and
out-of-order replays, amount mismatches refused, the provider re-queried before an order is given up,
refunds that balance, vouchers that verify, and a tampered ledger row named by the chain check."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import secrets
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import text

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.payment.v1 import payment_service_pb2 as pb
from deploy.local.servers import NatsServer, PostgresServer
from services.payment import domain, tools
from services.payment.config import PaymentSettings
from services.payment.invoices import BEIJING, InvoiceData, InvoiceRenderer, ObjectStoreInvoices
from services.payment.models import DATA_KEYS, STAFF_READS, TABLES, OrderRow, PaymentRow
from services.payment.providers.alipay import AlipayConfig, AlipayProvider
from services.payment.providers.base import Notification, load_private_key, rsa_sha256_sign
from services.payment.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, notification_body
from services.payment.refund_dispatcher import RefundDispatcher
from services.payment.sandbox_notifier import SandboxNotifier
from services.payment.server import PaymentServicer
from services.payment.store import PaymentStores
from services.payment.vouchers import VoucherSigner
from services.rules.forms import RequirementSpec
from services.runtime.config import load_settings
from services.runtime.context import Principal, principal_var
from services.runtime.db import Database
from services.runtime.errors import Conflict, NotFound, PermissionDenied
from services.runtime.events import EventBus, Outbox
from services.runtime.keys import DataKeys, master_key
from tests.support.factories import DOCUMENT_PRODUCT as PRODUCT
from tests.support.fake_providers import alipay_bill_gateway, alipay_trade_bill, rsa_pair
from tests.support.platform import isolated_settings, migrated_databases

CLIENT = Principal(user_id="u1", tenant_id="t1", roles=frozenset({"client"}))
STRANGER = Principal(user_id="u2", tenant_id="t2", roles=frozenset({"client"}))
AGENT = Principal(user_id="agent-1", tenant_id="", roles=frozenset({"agent"}))


class Platform:
    def __init__(self, db: Database, settings: PaymentSettings) -> None:
        self.db = db
        self.stores = PaymentStores.build(
            db, Outbox("payment", settings, TABLES), DataKeys(db, master_key(settings), DATA_KEYS)
        )
        self.sandbox = SandboxProvider(Ed25519PrivateKey.generate(), "http://127.0.0.1:8000")
        self.signer = VoucherSigner("s" * 32)
        self.servicer = PaymentServicer(self.stores, None, {"sandbox": self.sandbox}, self.signer, settings)  # type: ignore[arg-type]

    async def order(self, principal: Principal = CLIENT) -> str:
        new = domain.new_order(PRODUCT, "", {}, {})
        created = await self.stores.orders.create(principal, new, domain.DEFAULT_PAY_WITHIN, "", "")
        return created.view.row.id

    async def sandbox_payment(self, order_id: str) -> str:
        checkout = lambda payment_id, order: self.sandbox.checkout(payment_id, 0, "CNY", "", "", None)  # type: ignore[arg-type]  # noqa: E731
        payment = await self.stores.payments.create(CLIENT, order_id, "sandbox", checkout, "")
        return payment.id

    async def notify(self, body: bytes, signature: str | None = None) -> pb.HandleNotificationResponse:
        headers = {SIGNATURE_HEADER: signature if signature is not None else self.sandbox.sign(body)}
        return await self.servicer.HandleNotification(
            pb.HandleNotificationRequest(provider="sandbox", headers=headers, body=body),
            None,  # type: ignore[arg-type]
        )

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.db.transaction() as session:
            return (await session.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.db.transaction() as session:
            return list((await session.execute(text(sql), params)).all())


def success(payment_id: str, notify_id: str = "n-1", amount: int = 99900) -> bytes:
    return notification_body(
        notify_id, payment_id, "SBX1", amount, "CNY", "SUCCESS", "2026-11-29T08:00:00+00:00"
    )


@pytest.fixture
async def platform(postgres_server: PostgresServer, unique_name: str) -> AsyncIterator[Platform]:
    settings = isolated_settings(
        postgres_server, name=unique_name, settings_type=PaymentSettings, secret_key=secrets.token_urlsafe(32)
    )
    async with migrated_databases(settings, "payment", pool_size=8) as databases:
        yield Platform(databases["payment"], settings)


async def test_order_creation_is_idempotent_per_key_and_body(platform: Platform) -> None:
    new = domain.new_order(PRODUCT, "std", {}, {})
    created = await platform.stores.orders.create(CLIENT, new, domain.DEFAULT_PAY_WITHIN, "k1", "body-a")
    replayed = await platform.stores.orders.create(CLIENT, new, domain.DEFAULT_PAY_WITHIN, "k1", "body-a")
    first, again = created.view, replayed.view
    assert created.created and not replayed.created and again.row.id == first.row.id
    assert first.row.amount_fen == 99900 and [s.stage for s in first.stages] == ["pending_payment"]
    assert first.stages[0].due_at == first.row.pay_before
    with pytest.raises(Conflict):
        await platform.stores.orders.create(CLIENT, new, domain.DEFAULT_PAY_WITHIN, "k1", "body-b")
    with pytest.raises(NotFound):  # R-ACC-4: another enterprise's order does not exist for them
        await platform.stores.orders.get(STRANGER, first.row.id)


async def test_a_notification_replayed_concurrently_and_out_of_order_pays_exactly_once(
    platform: Platform,
) -> None:
    order_id = await platform.order()
    payment_id = await platform.sandbox_payment(order_id)
    late_pending = notification_body("n-0", payment_id, "SBX1", 99900, "CNY", "WAIT", "")
    bodies = [success(payment_id)] * 3 + [success(payment_id, "n-2"), late_pending]
    replies = await asyncio.gather(*(platform.notify(body) for body in bodies))
    outcomes = sorted(r.outcome for r in replies)
    assert outcomes.count("applied") == 1 and all(r.accepted for r in replies), outcomes
    assert all(r.ack_body == "OK" for r in replies)
    view = await platform.stores.orders.get(CLIENT, order_id)
    assert view.row.status == "paid" and view.row.paid_payment_id == payment_id
    assert (await platform.stores.ledger.events(order_id)).count("paid") == 1
    assert await platform.scalar("SELECT count(*) FROM outbox WHERE subject LIKE '%order.paid'") == 1
    again = await platform.notify(success(payment_id))  # a replay after the fact is harmless
    assert again.outcome == "duplicate" and (await platform.stores.ledger.events(order_id)).count("paid") == 1
    assert (await platform.stores.ledger.verify()).valid


async def test_a_bad_signature_changes_nothing(platform: Platform) -> None:
    order_id = await platform.order()
    payment_id = await platform.sandbox_payment(order_id)
    stranger = SandboxProvider(Ed25519PrivateKey.generate(), "http://x")
    reply = await platform.notify(success(payment_id), stranger.sign(success(payment_id)))
    assert (reply.accepted, reply.outcome) == (False, "bad_signature")
    assert (await platform.stores.orders.get(CLIENT, order_id)).row.status == "pending_payment"
    assert await platform.scalar("SELECT count(*) FROM provider_notifications") == 0


async def test_an_amount_mismatch_is_refused_and_recorded(platform: Platform) -> None:
    order_id = await platform.order()
    payment_id = await platform.sandbox_payment(order_id)
    reply = await platform.notify(success(payment_id, amount=1))
    assert (reply.accepted, reply.outcome) == (False, "amount_mismatch")
    assert (await platform.stores.orders.get(CLIENT, order_id)).row.status == "pending_payment"
    assert "amount_mismatch" in await platform.stores.ledger.events(order_id)


async def test_an_order_paid_twice_keeps_one_paid_payment_and_owes_the_other_back(platform: Platform) -> None:
    order_id = await platform.order()
    first, second = await platform.sandbox_payment(order_id), await platform.sandbox_payment(order_id)
    replies = await asyncio.gather(
        platform.notify(success(first, "a")), platform.notify(success(second, "b"))
    )
    assert sorted(r.outcome for r in replies) == ["applied", "refund_due"]
    assert await platform.scalar("SELECT count(*) FROM payments WHERE status = 'paid'") == 1
    # The second charge is returned on its own: the client keeps one paid order and pays once.
    assert await platform.scalar("SELECT count(*) FROM refunds WHERE reason LIKE 'unapplied%'") == 1
    view = await platform.stores.orders.get(CLIENT, order_id)
    assert (view.row.status, view.row.refunded_fen) == ("paid", 0)
    balances = await platform.stores.ledger.balances()
    assert balances["cash:sandbox"] == view.row.amount_fen and balances["refunds:due"] == 0
    assert (await platform.stores.ledger.verify()).valid


async def test_the_provider_is_requeried_before_an_unpaid_order_is_cancelled(platform: Platform) -> None:
    paid_late = await platform.order()
    payment_id = await platform.sandbox_payment(paid_late)
    await platform.stores.sandbox.pay(payment_id)  # the customer paid; the notification has not arrived
    assert (await platform.stores.payments.expire_order(paid_late)).row.status == "paid"
    unpaid = await platform.order()
    unpaid_payment = await platform.sandbox_payment(unpaid)
    view = await platform.stores.payments.expire_order(unpaid)
    assert view.row.status == "cancelled" and view.stages[-1].stage == "cancelled"
    assert view.row.status_reason == "payment_timeout"  # what the client's pages show, in words
    assert (await platform.stores.payments.get(unpaid_payment)).status == "closed"
    assert (await platform.stores.payments.expire_order(unpaid)).row.status == "cancelled"  # idempotent
    with pytest.raises(Conflict):
        await platform.stores.payments.create(CLIENT, unpaid, "sandbox", None, "")


async def test_an_order_keeps_why_it_was_cancelled_as_a_code_never_the_words_typed(
    platform: Platform,
) -> None:
    by_code = await platform.stores.orders.cancel(CLIENT, await platform.order(), "client_request")
    assert by_code.row.status_reason == "client_request"
    typed = await platform.stores.orders.cancel(CLIENT, await platform.order(), "我搬家了，不需要了")
    assert (typed.row.status, typed.row.status_reason) == ("cancelled", "stated")


async def test_the_sandbox_notifies_with_retries_until_acknowledged(platform: Platform) -> None:
    order_id = await platform.order()
    payment_id = await platform.sandbox_payment(order_id)
    await platform.stores.sandbox.pay(payment_id)
    attempts: list[bytes] = []

    async def deliver(body: bytes, headers: dict[str, str]) -> bool:
        attempts.append(body)
        if len(attempts) == 1:
            return False  # the platform was down
        reply = await platform.notify(body, headers[SIGNATURE_HEADER])
        return reply.ack_body == "OK"

    notifier = SandboxNotifier(platform.stores.sandbox, platform.sandbox, deliver)
    assert await notifier.notify_once() == 0
    await platform.scalar("UPDATE sandbox_transactions SET next_notify_at = now() RETURNING 1")
    assert await notifier.notify_once() == 1
    assert attempts[0] == attempts[1]  # a retry is the same notification, with the same id
    assert (await platform.stores.orders.get(CLIENT, order_id)).row.status == "paid"
    assert await notifier.notify_once() == 0


async def test_refunds_partial_then_full_are_idempotent_and_balance(platform: Platform) -> None:
    order_id = await platform.order()
    payment_id = await platform.sandbox_payment(order_id)
    await platform.notify(success(payment_id))
    await platform.stores.refunds.refund_order(None, order_id, 30000, "partial", "r1")
    view = await platform.stores.refunds.refund_order(None, order_id, 30000, "partial", "r1")  # replay
    assert view.row.refunded_fen == 30000 and view.row.status == "paid"
    with pytest.raises(PermissionDenied):
        await platform.stores.refunds.refund_order(CLIENT, order_id, 0, "x", "")  # clients cannot refund
    view = await platform.stores.refunds.refund_order(None, order_id, 0, "fulfilment_failed", "r2")
    assert (view.row.status, view.row.refunded_fen) == ("refunded", 99900)
    assert view.row.status_reason == "fulfilment_failed"
    balances = await platform.stores.ledger.balances()
    assert balances["cash:sandbox"] == 0 and sum(balances.values()) == 0
    assert (await platform.stores.ledger.events(order_id)).count("refunded") == 2
    with pytest.raises(Conflict):
        await platform.stores.refunds.refund_order(None, order_id, 0, "again", "r3")


async def test_a_voucher_verifies_and_an_altered_code_does_not(platform: Platform) -> None:
    order_id = await platform.order()
    await platform.notify(success(await platform.sandbox_payment(order_id)))
    voucher = await platform.stores.vouchers.issue(order_id, platform.signer)
    assert (await platform.stores.vouchers.issue(order_id, platform.signer)).id == voucher.id  # once
    token = principal_var.set(CLIENT)
    try:
        reply = await platform.servicer.GetVoucher(pb.GetVoucherRequest(order_id=order_id), None)  # type: ignore[arg-type]
    finally:
        principal_var.reset(token)
    assert reply.voucher.qr_png.startswith(b"\x89PNG") and reply.voucher.verify_url.endswith("/verify")
    code = reply.voucher.code
    assert (await platform.stores.vouchers.verify(code, platform.signer)).order_id == order_id
    altered = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    with pytest.raises(NotFound):
        await platform.stores.vouchers.verify(altered, platform.signer)
    await platform.scalar("UPDATE vouchers SET amount_fen = 1 RETURNING 1")
    with pytest.raises(NotFound):  # an altered row no longer verifies either
        await platform.stores.vouchers.verify(code, platform.signer)


async def staff_reads(platform: Platform) -> list[tuple[str, str, str]]:
    """(actor, resource, case) of the staff reads in the client's access log, oldest first."""
    async with platform.db.transaction() as session:
        seen = await STAFF_READS.of_owner(session, CLIENT.user_id, limit=20)
    return [(r.actor_id, r.resource, r.case_id) for r in reversed(seen)]


async def test_staff_reads_of_a_voucher_are_in_the_clients_access_log_and_the_clients_own_are_not(
    platform: Platform,
) -> None:
    """docs/privacy.md, "Staff access to case material": a voucher names the client's order."""
    order_id = await platform.order()
    await platform.notify(success(await platform.sandbox_payment(order_id)))
    voucher = await platform.stores.vouchers.issue(order_id, platform.signer)
    for principal in (CLIENT, AGENT, CLIENT):
        assert (await platform.stores.vouchers.get(principal, order_id)).id == voucher.id
    assert [(actor, resource) for actor, resource, _ in await staff_reads(platform)] == [
        ("agent-1", "voucher")
    ]


async def test_a_tampered_ledger_row_is_named_by_the_chain_check(platform: Platform) -> None:
    order_id = await platform.order()
    await platform.notify(success(await platform.sandbox_payment(order_id)))
    report = await platform.stores.ledger.verify()
    assert report.valid and report.checked >= 4
    await platform.scalar("UPDATE ledger_entries SET amount_fen = 1 WHERE seq = 2 RETURNING 1")
    report = await platform.stores.ledger.verify()
    assert (report.valid, report.first_broken_seq) == (False, 2)


class CountingRenderer(InvoiceRenderer):
    renders = 0

    async def render(self, data: InvoiceData) -> bytes:
        self.renders += 1
        return await super().render(data)


async def test_an_invoice_is_issued_once_and_kept_in_object_storage_with_its_sha256(
    platform: Platform, nats_server: NatsServer, unique_name: str
) -> None:
    bus = await EventBus.connect(
        load_settings(
            env="test", nats_url=nats_server.url, nats_stream=unique_name.upper(), subject_root=unique_name
        ),
        "test",
    )
    renderer = CountingRenderer(PaymentSettings(env="test").cache_dir)
    try:
        storage = ObjectStoreInvoices(bus.js, f"{unique_name}-invoices")
        order_id = await platform.order()
        with pytest.raises(Conflict):  # unpaid: no invoice
            await platform.stores.invoices.issue(order_id, "卖方", "91310000000000000X", storage, renderer)
        await platform.notify(success(await platform.sandbox_payment(order_id)))
        # A caller that gives up and asks again while the first render runs joins it: one invoice.
        first, retried = await asyncio.gather(
            platform.stores.invoices.issue(order_id, "卖方", "91310000000000000X", storage, renderer),
            platform.stores.invoices.issue(order_id, "卖方", "91310000000000000X", storage, renderer),
        )
        assert first.number == retried.number and renderer.renders == 1
        invoice = first
        again = await platform.stores.invoices.issue(
            order_id, "卖方", "91310000000000000X", storage, renderer
        )
        assert again.number == invoice.number and invoice.tax_fen == 5655
        stored = await platform.stores.invoices.get(CLIENT, order_id, storage)
        assert (
            stored.pdf.startswith(b"%PDF-")
            and hashlib.sha256(stored.pdf).hexdigest() == stored.invoice.sha256
        )
        assert "invoice" in await platform.stores.ledger.events(order_id)
        with pytest.raises(NotFound):
            await platform.stores.invoices.get(STRANGER, order_id, storage)
        # A staff member's read is in the client's access log (the buyer's title and tax id are theirs).
        assert (await platform.stores.invoices.get(AGENT, order_id, storage)).invoice.number == invoice.number
        assert await staff_reads(platform) == [("agent-1", "invoice", order_id)]
        await storage.put(invoice.object_name, b"%PDF- forged")
        with pytest.raises(Conflict):  # a replaced object no longer matches its recorded SHA-256
            await platform.stores.invoices.get(CLIENT, order_id, storage)
    finally:
        renderer.close()
        await bus.close()


async def test_an_invoice_renderer_whose_process_died_starts_again() -> None:
    """A renderer process killed (say, for memory) must not leave every later invoice failing."""
    renderer = InvoiceRenderer(PaymentSettings(env="test").cache_dir)
    try:
        data = InvoiceData(
            "INV1", datetime.now(UTC), "卖方", "9131", "买方", "", "合同审查", 99900, 5655, "CNY", "order-1"
        )
        assert (await renderer.render(data)).startswith(b"%PDF-")
        for process in list(renderer._pool._processes.values()):
            os.kill(process.pid, signal.SIGKILL)
            process.join(10)
        assert (await renderer.render(data)).startswith(b"%PDF-")
        # Two invoices in flight when it dies: both fail together, and one new renderer serves both.
        in_flight = [asyncio.create_task(renderer.render(data)) for _ in range(2)]
        await asyncio.sleep(0)  # both submitted to the current process
        for process in list(renderer._pool._processes.values()):
            os.kill(process.pid, signal.SIGKILL)
        assert all(pdf.startswith(b"%PDF-") for pdf in await asyncio.gather(*in_flight))
    finally:
        renderer.close()


async def test_reconciliation_reports_what_the_ledger_and_the_sandbox_statement_disagree_on(
    platform: Platform,
) -> None:
    settled = await platform.sandbox_payment(await platform.order())
    await platform.stores.sandbox.pay(settled)
    await platform.notify(success(settled))
    unnotified = await platform.sandbox_payment(await platform.order())
    await platform.stores.sandbox.pay(unnotified)  # the provider has it; the ledger does not (yet)
    start = datetime.now(UTC) - timedelta(hours=1)
    report = await platform.stores.reconciliation.reconcile(start, start + timedelta(hours=2))
    assert [(d.payment_id, d.kind) for d in report.differences] == [(unnotified, "missing_in_ledger")]
    assert report.unavailable == []
    await platform.scalar(
        "UPDATE sandbox_transactions SET amount_fen = 1 WHERE payment_id <> :p RETURNING 1", p=unnotified
    )
    report = await platform.stores.reconciliation.reconcile(start, start + timedelta(hours=2))
    assert {d.kind for d in report.differences} == {"missing_in_ledger", "amount_differs"}


async def test_counsel_ledger_verify_exits_nonzero_on_a_tampered_ledger(
    platform: Platform, postgres_server: PostgresServer, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await platform.notify(success(await platform.sandbox_payment(await platform.order())))
    settings = load_settings(env="test", database_url=postgres_server.url, database_prefix=unique_name)
    assert await tools.verify_ledger(settings) == 0
    await platform.scalar("UPDATE ledger_entries SET data = '{}' WHERE seq = 3 RETURNING 1")
    assert await tools.verify_ledger(settings) == 1
    assert "BROKEN at entry 3" in capsys.readouterr().out


async def test_counsel_payment_reconcile_compares_the_ledger_with_alipays_bill(
    platform: Platform, postgres_server: PostgresServer, unique_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reconciliation beyond the sandbox: Alipay's trade bill (downloaded through its signed download URL)
    is compared with the ledger's Alipay payments; a provider without a statement API is named, not skipped."""
    private_pem, public_pem = rsa_pair()
    paid = []
    for n in range(2):
        order_id = await platform.order()
        async with platform.db.transaction() as session:
            row = await session.get(OrderRow, order_id)
            assert row is not None
            session.add(
                PaymentRow(
                    id=f"ali{n}-{order_id[:20]}",
                    order_id=order_id,
                    tenant_id=row.tenant_id,
                    method="alipay",
                    status="created",
                    amount_fen=row.amount_fen,
                    created_at=row.created_at,
                )
            )
        note = Notification(f"n-ali{n}", f"ali{n}-{order_id[:20]}", f"20261129{n}", 99900, "CNY", "paid")
        assert await platform.stores.payments.apply_notification("alipay", note) == "applied"
        paid.append(note.payment_id)
    today = datetime.now(UTC).astimezone(BEIJING).date()
    bill = alipay_trade_bill(
        today.isoformat(),
        [(paid[0], "交易", "999.00"), (paid[1], "交易", "999.01"), ("ali-unknown", "交易", "5.00")],
    )
    settings = load_settings(env="test", database_url=postgres_server.url, database_prefix=unique_name)
    async with httpx.AsyncClient(transport=alipay_bill_gateway(private_pem, bill)) as http:
        providers = {
            "alipay": AlipayProvider(AlipayConfig("app-1", private_pem, public_pem), http),
            "bank": object(),  # a provider with no statement API here
        }
        assert await tools.reconcile(settings, today, providers) == 1
    out = capsys.readouterr().out
    assert f"{paid[1]}  amount_differs       ledger=99900 provider=99901" in out
    assert "ali-unknown  missing_in_ledger" in out and paid[0] not in out
    assert "bank     not reconciled: no statement API here" in out
    assert f"{today.isoformat()}: 2 difference(s)" in out


async def test_expiry_asks_a_real_providers_query_api_before_cancelling(platform: Platform) -> None:
    order_id = await platform.order()
    # An Alipay payment (the provider is not configured here, so the payment row is written directly).
    async with platform.db.transaction() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
        session.add(
            PaymentRow(
                id="ali-1",
                order_id=order_id,
                tenant_id=row.tenant_id,
                method="alipay",
                status="created",
                amount_fen=row.amount_fen,
                created_at=row.created_at,
            )
        )
    asked: list[str] = []

    async def alipay_query(payment_id: str) -> Notification | None:
        asked.append(payment_id)
        return Notification("query:1", payment_id, "2026112922001", 99900, "CNY", "paid")

    view = await platform.stores.payments.expire_order(order_id, {"alipay": alipay_query})
    assert asked == ["ali-1"] and view.row.status == "paid" and view.row.paid_payment_id == "ali-1"


async def test_requested_refunds_are_sent_to_the_provider_and_settled(platform: Platform) -> None:
    """A refund of an Alipay payment goes out through alipay.trade.refund (real signing code against a
    stand-in for Alipay's gateway); a refusal is recorded in the ledger for an agent to act on."""
    private_pem, public_pem = rsa_pair()
    answers = iter(["10000", "40004"])

    def alipay_gateway(request: httpx.Request) -> httpx.Response:
        content = json.dumps({"code": next(answers), "msg": "x"}, separators=(",", ":"))
        signature = rsa_sha256_sign(load_private_key(private_pem), content.encode())
        return httpx.Response(
            200, text='{"alipay_trade_refund_response":' + content + ',"sign":"' + signature + '"}'
        )

    order_id = await platform.order()
    async with platform.db.transaction() as session:
        row = await session.get(OrderRow, order_id)
        assert row is not None
        session.add(
            PaymentRow(
                id=f"ali-{order_id}",
                order_id=order_id,
                tenant_id=row.tenant_id,
                method="alipay",
                status="created",
                amount_fen=row.amount_fen,
                created_at=row.created_at,
            )
        )
    note = Notification("n-ali", f"ali-{order_id}", "2026112922001", 99900, "CNY", "paid")
    assert await platform.stores.payments.apply_notification("alipay", note) == "applied"
    await platform.stores.refunds.refund_order(None, order_id, 100, "goodwill", "")
    await platform.stores.refunds.refund_order(None, order_id, 200, "goodwill", "")
    async with httpx.AsyncClient(transport=httpx.MockTransport(alipay_gateway)) as http:
        provider = AlipayProvider(AlipayConfig("app-1", private_pem, public_pem), http)
        dispatcher = RefundDispatcher(platform.stores.refunds, {"alipay": provider})
        assert await dispatcher.dispatch_once() == 2
        assert await dispatcher.dispatch_once() == 0
    statuses = await platform.scalar("SELECT string_agg(status, ',' ORDER BY amount_fen) FROM refunds")
    assert statuses == "succeeded,failed"
    assert "refund_failed" in await platform.stores.ledger.events(order_id)
    assert (await platform.stores.ledger.verify()).valid
    # The refused refund's postings are reversed by a compensating entry: the books hold what was really
    # returned (100 fen), the refunded entry itself is untouched, and the 200 fen can be refunded again.
    balances = await platform.stores.ledger.balances()
    assert balances["cash:alipay"] == 99900 - 100 and balances[domain.REVENUE] == -(99900 - 100)
    entries = await platform.scalar(
        "SELECT count(*) FROM ledger_entries WHERE order_id = :o AND event = 'refunded'", o=order_id
    )
    assert entries == 2
    view = await platform.stores.orders.get(None, order_id)
    assert view.row.refunded_fen == 100 and "refund_failed" in [s.stage for s in view.stages]
    again = await platform.stores.refunds.refund_order(None, order_id, 0, "retry after refusal", "")
    assert again.row.status == "refunded" and again.row.refunded_fen == 99900
    assert (await platform.stores.ledger.balances())["cash:alipay"] == 0


# -- every interleaving of a payment's notifications (issue 16, R-PAY-2) ----------------------------------
SANDBOX_STATUSES = ("WAIT", "SUCCESS", "CLOSED", "FAILED")
# One step: a notification (payment index, provider status, which of two ids — the same id is always the same
# body, a provider's replay) or the order's payment timer firing ("expire").
notify_step = st.tuples(st.integers(0, 2), st.sampled_from(SANDBOX_STATUSES), st.integers(0, 1))
step = st.one_of(notify_step, st.just("expire"))
# Steps of a wave run concurrently; waves run one after another.
waves = st.lists(st.lists(step, min_size=1, max_size=5), min_size=1, max_size=4)


@examples(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI repeats what was checked
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payments=st.integers(1, 3), plan=waves)
async def test_money_reported_paid_is_applied_or_refunded_exactly_once_in_any_interleaving(
    platform: Platform, payments: int, plan: list[list[Any]]
) -> None:
    """Any statuses, any order, duplicates and concurrency: every well-signed, well-formed notification is
    acknowledged; each payment reported paid is either the order's one paid payment or refunded in full,
    exactly once; the order's ledger balances and its chain verifies; order.paid is published at most once."""
    order_id = await platform.order()
    payment_ids = [await platform.sandbox_payment(order_id) for _ in range(payments)]
    reported_paid: set[str] = set()

    async def run(action: Any) -> pb.HandleNotificationResponse | None:
        if action == "expire":
            await platform.stores.payments.expire_order(order_id)
            return None
        index, status, variant = action
        payment_id = payment_ids[index % payments]
        if status == "SUCCESS":
            reported_paid.add(payment_id)
        body = notification_body(
            f"{payment_id}:{status}:{variant}", payment_id, "SBX1", 99900, "CNY", status, ""
        )
        return await platform.notify(body)

    for wave in plan:
        replies = await asyncio.gather(*(run(action) for action in wave))
        for reply in replies:
            assert reply is None or (reply.accepted and reply.ack_body == "OK"), reply

    order = (await platform.stores.orders.get(CLIENT, order_id)).row
    status = {p: (await platform.stores.payments.get(p)).status for p in payment_ids}
    for payment_id in payment_ids:
        money = status[payment_id] in ("paid", "refund_due")
        assert money == (payment_id in reported_paid), (payment_id, status[payment_id])
    paid = [p for p in payment_ids if status[p] == "paid"]
    assert len(paid) == (1 if order.status == "paid" else 0)
    assert (order.paid_payment_id or None) == (paid[0] if paid else None)
    assert order.status in (("paid", "cancelled") if reported_paid else ("pending_payment", "cancelled"))
    owed_back = [p for p in payment_ids if status[p] == "refund_due"]
    refunds = await platform.scalar(
        "SELECT count(*) FROM refunds WHERE order_id = :o AND reason LIKE 'unapplied_payment%'", o=order_id
    )
    assert refunds == len(owed_back)
    events = await platform.stores.ledger.events(order_id)
    assert events.count("paid") == len(paid) and events.count("paid_unapplied") == len(owed_back)
    rows = await platform.rows(
        "SELECT p.account, sum(p.amount_fen) FROM ledger_postings p JOIN ledger_entries e ON e.seq = p.entry_seq"
        " WHERE e.order_id = :o GROUP BY p.account",
        o=order_id,
    )
    balances = {account: int(total) for account, total in rows}
    # Each charge is kept once (the paid one) and every other charge went back: the cash held is one price or
    # nothing, and nothing is left owed.
    assert balances.get("cash:sandbox", 0) == 99900 * len(paid)
    assert balances.get("revenue:orders", 0) == -99900 * len(paid)
    assert balances.get("refunds:due", 0) == 0
    outbox = await platform.rows("SELECT payload FROM outbox WHERE subject LIKE '%order.paid'")
    published = [EventEnvelope.FromString(payload).aggregate_id for (payload,) in outbox]
    assert published.count(order_id) == len(paid)
    assert (await platform.stores.ledger.verify()).valid


async def test_money_reported_after_the_provider_closed_the_payment_pays_the_order(
    platform: Platform,
) -> None:
    """The late-WAIT race of issue 16, made deterministic: the provider's CLOSED (or a WAIT, or a FAILED)
    comes first, then its SUCCESS — the money is applied, never refused with 409."""
    for first in ("WAIT", "CLOSED", "FAILED"):
        order_id = await platform.order()
        payment_id = await platform.sandbox_payment(order_id)
        early = await platform.notify(
            notification_body(f"{first}-1", payment_id, "SBX1", 99900, "CNY", first, "")
        )
        assert early.accepted and early.outcome == {"WAIT": "ignored"}.get(first, first.lower())
        late = await platform.notify(success(payment_id, f"{first}-2"))
        assert (late.accepted, late.outcome) == (True, "applied")
        assert (await platform.stores.orders.get(CLIENT, order_id)).row.status == "paid"
        assert (await platform.stores.payments.get(payment_id)).status == "paid"


async def test_money_reported_after_the_order_timed_out_is_refunded_not_refused(platform: Platform) -> None:
    """We closed the payment on our timer (the order was cancelled), then the money arrived anyway: it is
    owed back and refunded, with its ledger entries, and the provider is acknowledged."""
    order_id = await platform.order()
    payment_id = await platform.sandbox_payment(order_id)
    assert (await platform.stores.payments.expire_order(order_id)).row.status == "cancelled"
    assert (await platform.stores.payments.get(payment_id)).status == "closed"
    late = await platform.notify(success(payment_id))
    assert (late.accepted, late.outcome, late.ack_body) == (True, "refund_due", "OK")
    assert (await platform.stores.payments.get(payment_id)).status == "refund_due"
    assert await platform.scalar("SELECT count(*) FROM refunds WHERE order_id = :o", o=order_id) == 1
    events = await platform.stores.ledger.events(order_id)
    assert events.count("paid_unapplied") == 1 and events.count("refunded") == 1
    assert (await platform.stores.orders.get(CLIENT, order_id)).row.status == "cancelled"


async def test_the_export_holds_the_requirement_answers_the_client_gave_opened(platform: Platform) -> None:
    """docs/privacy.md, "Export": the answers are sealed at rest and the API never shows them; the person's
    copy holds them in plaintext, as text like the document order's."""
    form = (RequirementSpec("parties", "list", True), RequirementSpec("key_terms", "textarea", True))
    product = dataclasses.replace(PRODUCT, requirement_fields=form)
    new = domain.new_order(product, "", {"parties": ["甲方", "乙方"], "key_terms": "租金、期限"}, {})
    answered = (
        await platform.stores.orders.create(CLIENT, new, domain.DEFAULT_PAY_WITHIN, "", "")
    ).view.row.id
    unanswered = await platform.order()
    token = principal_var.set(CLIENT)
    try:
        reply = await platform.servicer.ExportPaymentData(pb.ExportPaymentDataRequest(), None)  # type: ignore[arg-type]
    finally:
        principal_var.reset(token)
    assert [o.id for o in reply.orders] == [answered, unanswered]
    assert [(r.order_id, dict(r.answers)) for r in reply.requirements] == [
        (answered, {"parties": "甲方\n乙方", "key_terms": "租金、期限"})
    ]
