"""The documents a paid order is issued (R-PAY-3): its signed voucher and its invoice, each once, with its
stage and ledger entry."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.payment import domain
from services.payment.invoices import InvoiceData, InvoiceRenderer, InvoiceStorage, sha256_hex, tax_included
from services.payment.models import STAFF_READS, InvoiceRow, OrderRow, VoucherRow
from services.payment.store.base import locked_order, record_stage, visible_order
from services.payment.store.ledger import append_ledger
from services.payment.store.sealed import INVOICE_TAX_ID, INVOICE_TITLE, order_subject
from services.payment.vouchers import VoucherSigner, split_code, voucher_payload
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.errors import Conflict, NotFound
from services.runtime.keys import DataKeys
from services.runtime.records import new_id, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvoiceDocument:
    """An issued invoice and its PDF, checked against the SHA-256 recorded when it was issued."""

    invoice: InvoiceRow
    pdf: bytes


async def _record_issue(
    session: AsyncSession, order: OrderRow, document: VoucherRow | InvoiceRow, line: domain.LedgerLine
) -> None:
    """The document issued for the locked `order`, its stage (`voucher_issued`, `invoice_issued`) and
    its ledger entry `line`, in the issuing transaction."""
    session.add(document)
    await session.flush()
    await record_stage(session, order.id, f"{line.event}_issued", "system")
    await append_ledger(session, order, line)


class Vouchers:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def issue(self, order_id: str, signer: VoucherSigner) -> VoucherRow:
        """The paid order's voucher, signed and recorded once (a repeat returns the first)."""
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            existing = (await session.exec(select(VoucherRow).where(VoucherRow.order_id == order_id))).first()
            if existing is not None:
                return existing
            domain.check_issuable(row.status, "voucher")
            voucher_id = new_id()[:16]
            issued_at = utcnow().replace(microsecond=0)
            payload = voucher_payload(
                voucher_id, order_id, row.amount_fen, row.currency, row.product_id, issued_at
            )
            voucher = VoucherRow(
                id=voucher_id,
                order_id=order_id,
                signature=signer.sign(payload),
                amount_fen=row.amount_fen,
                currency=row.currency,
                product_id=row.product_id,
                issued_at=issued_at,
            )
            await _record_issue(
                session,
                row,
                voucher,
                domain.LedgerLine("voucher", row.paid_payment_id, row.amount_fen, {"voucher_id": voucher_id}),
            )
            return voucher

    async def get(self, principal: Principal | None, order_id: str) -> VoucherRow:
        """The order's voucher; NotFound before it is issued. A staff member's read is written to the staff
        access log (docs/privacy.md)."""
        async with self.db.transaction() as session:
            view = await visible_order(session, principal, order_id)
            voucher = (await session.exec(select(VoucherRow).where(VoucherRow.order_id == order_id))).first()
            if voucher is None:
                raise NotFound("the order has no voucher yet")
            await STAFF_READS.record(session, principal, "voucher", voucher.id, view.row)
        return voucher

    async def verify(self, code: str, signer: VoucherSigner) -> VoucherRow:
        """The voucher of a genuine code; NotFound for an unknown or altered one (or an altered row)."""
        parts = split_code(code)
        if parts is None:
            raise NotFound("no such voucher")
        voucher_id, signature = parts
        async with self.db.transaction() as session:
            voucher = await session.get(VoucherRow, voucher_id)
        if voucher is None or voucher.signature != signature:
            raise NotFound("no such voucher")
        payload = voucher_payload(
            voucher.id,
            voucher.order_id,
            voucher.amount_fen,
            voucher.currency,
            voucher.product_id,
            voucher.issued_at,
        )
        if not signer.verify(payload, signature):
            raise NotFound("no such voucher")
        return voucher


class Invoices:
    def __init__(self, db: Database, keys: DataKeys) -> None:
        self.db = db
        self.keys = keys
        self._issuing: dict[str, asyncio.Future[InvoiceRow]] = {}  # order id → its invoice in the making

    async def issue(
        self,
        order_id: str,
        seller_name: str,
        seller_tax_id: str,
        storage: InvoiceStorage,
        renderer: InvoiceRenderer,
    ) -> InvoiceRow:
        """Render, store and record the order's invoice once (a repeat returns the first). A repeat
        while the first is still rendering here waits for it: a caller that gave up (deadline) and
        retried must not queue a second render behind the first."""
        pending = self._issuing.get(order_id)
        if pending is None:
            pending = asyncio.ensure_future(
                self._issue(order_id, seller_name, seller_tax_id, storage, renderer)
            )
            self._issuing[order_id] = pending
            pending.add_done_callback(lambda done: self._issued(order_id, done))
        return await asyncio.shield(pending)

    def _issued(self, order_id: str, done: asyncio.Future[InvoiceRow]) -> None:
        self._issuing.pop(order_id, None)
        if not done.cancelled():
            done.exception()  # retrieved: every caller may have gone (deadline); the next call retries

    async def _issue(
        self,
        order_id: str,
        seller_name: str,
        seller_tax_id: str,
        storage: InvoiceStorage,
        renderer: InvoiceRenderer,
    ) -> InvoiceRow:
        async with self.db.transaction() as session:
            existing = (await session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order_id))).first()
            if existing is not None:
                return existing
            row = await session.get(OrderRow, order_id)
            if row is None:
                raise NotFound("no such order")
            domain.check_issuable(row.status, "invoice")
        cipher = await self.keys.cipher(order_subject(row))
        issued_at = utcnow().replace(microsecond=0)
        number = f"INV{issued_at:%Y%m%d}{order_id[:12].upper()}"
        tax = tax_included(row.amount_fen)
        tier_name = str(row.tier.get("name", row.tier_id))
        data = InvoiceData(
            number=number,
            issued_at=issued_at,
            seller_name=seller_name,
            seller_tax_id=seller_tax_id,
            buyer_name=opened(cipher, INVOICE_TITLE, row.invoice_title) or f"企业 {row.tenant_id}",
            buyer_tax_id=opened(cipher, INVOICE_TAX_ID, row.invoice_tax_id),
            item=f"{row.product_name} {tier_name}".strip(),
            amount_fen=row.amount_fen,
            tax_fen=tax,
            currency=row.currency,
            order_id=order_id,
        )
        pdf = await renderer.render(data)
        object_name = f"{number}.pdf"
        await storage.put(object_name, pdf)
        async with self.db.transaction() as session:
            row = await locked_order(session, order_id)
            existing = (await session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order_id))).first()
            if existing is not None:  # a concurrent attempt finished first
                return existing
            invoice = InvoiceRow(
                number=number,
                order_id=order_id,
                object_name=object_name,
                sha256=sha256_hex(pdf),
                amount_fen=row.amount_fen,
                tax_fen=tax,
                currency=row.currency,
                issued_at=issued_at,
            )
            await _record_issue(
                session,
                row,
                invoice,
                domain.LedgerLine(
                    "invoice",
                    row.paid_payment_id,
                    row.amount_fen,
                    {"number": number, "sha256": invoice.sha256, "tax": tax},
                ),
            )
            return invoice

    async def issued_for(self, principal: Principal | None, order_id: str) -> InvoiceRow | None:
        """The invoice issued for a visible order (its record, not the PDF); None when there is none yet. A
        staff member's read (the buyer's title and tax id) is written to the staff access log."""
        async with self.db.transaction() as session:
            view = await visible_order(session, principal, order_id)
            invoice = (await session.exec(select(InvoiceRow).where(InvoiceRow.order_id == order_id))).first()
            if invoice is not None:
                await STAFF_READS.record(session, principal, "invoice", invoice.number, view.row)
            return invoice

    async def get(
        self, principal: Principal | None, order_id: str, storage: InvoiceStorage
    ) -> InvoiceDocument:
        """The invoice and its PDF; DataLoss-like Conflict when the stored PDF no longer matches its hash."""
        invoice = await self.issued_for(principal, order_id)
        if invoice is None:
            raise NotFound("the order has no invoice yet")
        pdf = await storage.get(invoice.object_name)
        if sha256_hex(pdf) != invoice.sha256:
            log.error("stored invoice does not match its SHA-256", extra={"number": invoice.number})
            raise Conflict("the stored invoice is damaged; staff have been alerted", reason="invoice_damaged")
        return InvoiceDocument(invoice, pdf)
