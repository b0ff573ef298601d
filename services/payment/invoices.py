"""Invoices (R-PAY-3, §6.1.5.3): a PDF with the seller, the buyer enterprise (name, tax id), the items,
amounts and tax, with Chinese text rendered by an embedded Noto Sans CJK font that ships as a Python
package. PDFs are kept in a JetStream Object Store bucket; their SHA-256 is stored beside the metadata."""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from fpdf import FPDF, FontFace
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import BucketNotFoundError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from services.runtime.errors import NotFound

BEIJING = timezone(timedelta(hours=8))
BUCKET = "invoices"
# Legal services are "modern services" for VAT in China: 6 %, included in the price.
VAT_RATE_PERCENT = 6
FONT_PACKAGE = "noto_cjk_sans_jp_regular"
FONT_FILE = "NotoSansCJKjp-Regular.otf"  # Pan-CJK: its glyph set covers simplified Chinese


def tax_included(amount_fen: int, rate_percent: int = VAT_RATE_PERCENT) -> int:
    """The VAT inside a tax-inclusive amount, rounded half up to the fen."""
    return (amount_fen * rate_percent * 2 + (100 + rate_percent)) // (2 * (100 + rate_percent))


@dataclass(frozen=True)
class InvoiceData:
    number: str
    issued_at: datetime
    seller_name: str
    seller_tax_id: str
    buyer_name: str
    buyer_tax_id: str
    item: str
    amount_fen: int
    tax_fen: int
    currency: str
    order_id: str


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def render_invoice(data: InvoiceData) -> bytes:
    """The invoice as PDF bytes (deterministic apart from fpdf2's creation date)."""
    font = importlib.resources.files(FONT_PACKAGE) / FONT_FILE
    pdf = FPDF(format="A4")
    pdf.set_creation_date(data.issued_at)
    pdf.set_title(f"发票 Invoice {data.number}")
    pdf.add_page()
    pdf.add_font("noto", fname=str(font))
    pdf.set_font("noto", size=18)
    pdf.cell(0, 12, "电子发票（普通发票） Invoice", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=10)
    issued = data.issued_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    for label, value in (
        ("发票号码 Number", data.number),
        ("开票日期 Issued", issued),
        ("订单 Order", data.order_id),
        ("销售方 Seller", data.seller_name),
        ("销售方税号 Seller tax id", data.seller_tax_id),
        ("购买方 Buyer", data.buyer_name),
        ("购买方税号 Buyer tax id", data.buyer_tax_id or "—"),
    ):
        pdf.cell(60, 7, label)
        pdf.cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    net = data.amount_fen - data.tax_fen
    with pdf.table(
        col_widths=(70, 20, 30, 20, 30),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis=None),  # one regular CJK face; no bold variant is embedded
    ) as table:
        table.row(("项目 Item", "数量 Qty", "金额 Net", "税率 Rate", "税额 Tax"))
        table.row((data.item, "1", _yuan(net), f"{VAT_RATE_PERCENT}%", _yuan(data.tax_fen)))
    pdf.ln(4)
    pdf.set_font("noto", size=12)
    pdf.cell(
        0, 8, f"价税合计 Total ({data.currency}): {_yuan(data.amount_fen)}", new_x="LMARGIN", new_y="NEXT"
    )
    return bytes(pdf.output())


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class InvoiceStorage(Protocol):
    async def put(self, name: str, data: bytes) -> None: ...

    async def get(self, name: str) -> bytes: ...


class ObjectStoreInvoices:
    """Invoices in the JetStream Object Store bucket `invoices` (replicas from settings, as documents')."""

    def __init__(self, js: JetStreamContext, bucket: str = BUCKET, replicas: int = 1) -> None:
        self.js = js
        self.bucket = bucket
        self.replicas = replicas

    async def _store(self) -> ObjectStore:
        try:
            return await self.js.object_store(self.bucket)
        except BucketNotFoundError:
            return await self.js.create_object_store(
                self.bucket,
                config=ObjectStoreConfig(
                    description="invoices", storage=StorageType.FILE, replicas=self.replicas
                ),
            )

    async def put(self, name: str, data: bytes) -> None:
        await (await self._store()).put(name, data)

    async def get(self, name: str) -> bytes:
        try:
            result = await (await self._store()).get(name)
        except ObjectNotFoundError as exc:
            raise NotFound("the invoice file is missing") from exc
        return bytes(result.data or b"")
