"""Invoices (R-PAY-3, §6.1.5.3): a PDF with the seller, the buyer enterprise (name, tax id), the items,
amounts and tax, with Chinese text rendered by an embedded Noto Sans CJK font that ships as a Python
package. PDFs are kept in a JetStream Object Store bucket; their SHA-256 is stored beside the metadata.

Rendering is CPU work: fpdf2 parses and subsets the 16 MB, 65,000-glyph CJK font for every PDF (0.4 s).
Two things keep it from slowing payments down (measured by `make bench`'s callback burst):
- a *common* font, the full font cut once to the characters of GB 2312 (every everyday simplified
  character), Latin and CJK punctuation, cached on disk; an invoice whose text it covers renders in
  0.1 s, and one with a rarer character (a name outside GB 2312) falls back to the full font;
- `InvoiceRenderer` renders in a process of its own, so the service's event loop never waits for the GIL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.resources
import logging
import multiprocessing
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

from fpdf import FPDF, FontFace
from nats.js import JetStreamContext
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import ObjectNotFoundError
from nats.js.object_store import ObjectStore

from services.runtime.errors import NotFound
from services.runtime.object_store import open_bucket

BEIJING = timezone(timedelta(hours=8))
BUCKET = "invoices"
# Legal services are "modern services" for VAT in China: 6 %, included in the price.
VAT_RATE_PERCENT = 6
FONT_PACKAGE = "noto_cjk_sans_jp_regular"
FONT_FILE = "NotoSansCJKjp-Regular.otf"  # Pan-CJK: its glyph set covers simplified Chinese
COMMON_FONT_VERSION = 1  # bump when COMMON_CHARACTERS or the cut's options change

log = logging.getLogger(__name__)


def _gb2312_characters() -> frozenset[int]:
    chars: set[int] = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):  # an unassigned cell of the code table
                chars.add(ord(bytes((high, low)).decode("gb2312")))
    return frozenset(chars)


# What the common font keeps: printable Latin-1, general punctuation, CJK symbols and full-width forms,
# and GB 2312's 6,763 characters with its symbols (7,500 glyphs of the font's 65,000).
COMMON_CHARACTERS = (
    frozenset(range(0x20, 0x7F))
    | frozenset(range(0xA0, 0x100))
    | frozenset(range(0x2010, 0x2060))
    | frozenset(range(0x3000, 0x3040))
    | frozenset(range(0xFF00, 0xFFF0))
    | _gb2312_characters()
)


def full_font() -> Path:
    return Path(str(importlib.resources.files(FONT_PACKAGE) / FONT_FILE))


def common_font(cache_dir: Path) -> Path:
    """The common font, cut from the full font on first use (7 s of CPU) and cached in `cache_dir`
    under a name that changes with the font file and the cut."""
    source = full_font()
    key = hashlib.sha256(f"{FONT_FILE}:{source.stat().st_size}:{COMMON_FONT_VERSION}".encode()).hexdigest()
    path = cache_dir / f"invoice-font-{key[:16]}.otf"
    if path.exists():
        return path
    cache_dir.mkdir(parents=True, exist_ok=True)  # an unwritable cache fails here, before 7 s of work
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = []  # fpdf2 places glyphs by cmap; no shaping tables needed
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    font = TTFont(str(source), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=COMMON_CHARACTERS)
    subsetter.subset(font)
    # Written aside and renamed: a concurrent cut (another process) never sees half a file.
    fd, partial = tempfile.mkstemp(dir=cache_dir, suffix=".partial")
    with os.fdopen(fd, "wb") as out:
        font.save(out)
    os.replace(partial, path)
    log.info("cut the common invoice font", extra={"path": str(path)})
    return path


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


def render_invoice(data: InvoiceData, common: Path | None = None) -> bytes:
    """The invoice as PDF bytes (deterministic apart from fpdf2's creation date), in the `common` font
    when it has every character of the invoice, else in the full font."""
    issued = data.issued_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    net = data.amount_fen - data.tax_fen
    title = "电子发票（普通发票） Invoice"
    fields = (
        ("发票号码 Number", data.number),
        ("开票日期 Issued", issued),
        ("订单 Order", data.order_id),
        ("销售方 Seller", data.seller_name),
        ("销售方税号 Seller tax id", data.seller_tax_id),
        ("购买方 Buyer", data.buyer_name),
        ("购买方税号 Buyer tax id", data.buyer_tax_id or "—"),
    )
    headings = ("项目 Item", "数量 Qty", "金额 Net", "税率 Rate", "税额 Tax")
    row = (data.item, "1", _yuan(net), f"{VAT_RATE_PERCENT}%", _yuan(data.tax_fen))
    total = f"价税合计 Total ({data.currency}): {_yuan(data.amount_fen)}"
    text = "".join((title, total, *headings, *row, *(label + value for label, value in fields)))
    covered = common is not None and all(ord(c) in COMMON_CHARACTERS for c in text)
    pdf = FPDF(format="A4")
    pdf.set_creation_date(data.issued_at)
    pdf.set_title(f"发票 Invoice {data.number}")
    pdf.add_page()
    pdf.add_font("noto", fname=str(common if covered else full_font()))
    pdf.set_font("noto", size=18)
    pdf.cell(0, 12, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("noto", size=10)
    for label, value in fields:
        pdf.cell(60, 7, label)
        pdf.cell(0, 7, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(
        col_widths=(70, 20, 30, 20, 30),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis=None),  # one regular CJK face; no bold variant is embedded
    ) as table:
        table.row(headings)
        table.row(row)
    pdf.ln(4)
    pdf.set_font("noto", size=12)
    pdf.cell(0, 8, total, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


_common: Path | None = None  # the renderer process's common font, set by its initializer


def _prepare_renderer(cache_dir: str) -> None:
    global _common
    try:
        _common = common_font(Path(cache_dir))
    except OSError:
        log.exception("could not cut or cache the common invoice font; every invoice uses the full font")


def _render_in_renderer(data: InvoiceData) -> bytes:
    return render_invoice(data, _common)


class InvoiceRenderer:
    """Renders invoices one at a time in a process of its own (spawned, not forked: the parent runs
    gRPC threads). The process starts, and cuts or loads the common font, as the renderer is made."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_prepare_renderer,
            initargs=(str(self._cache_dir),),
        )
        pool.submit(int)  # start the process now rather than at the first invoice
        return pool

    async def render(self, data: InvoiceData) -> bytes:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, _render_in_renderer, data)
        except BrokenProcessPool:
            # The process died (e.g. killed for memory); a broken pool refuses all later work, so the
            # renderer starts again and this invoice is rendered once more. Every render in flight fails
            # at once: only the first to notice starts the new process, the others use it.
            if self._pool is pool:
                log.error("the invoice renderer process died; starting a new one")
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
            return await loop.run_in_executor(self._pool, _render_in_renderer, data)

    def close(self) -> None:
        """Stops the renderer at once: a render is pure, so one cut short is simply asked for again."""
        processes = list(self._pool._processes.values())  # 3.14 has terminate_workers(); 3.11 does not
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
            process.join(timeout=5)


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

    async def store(self) -> ObjectStore:
        config = ObjectStoreConfig(description="invoices", storage=StorageType.FILE, replicas=self.replicas)
        return await open_bucket(self.js, self.bucket, config)

    async def put(self, name: str, data: bytes) -> None:
        await (await self.store()).put(name, data)

    async def get(self, name: str) -> bytes:
        try:
            result = await (await self.store()).get(name)
        except ObjectNotFoundError as exc:
            raise NotFound("the invoice file is missing") from exc
        return bytes(result.data or b"")
