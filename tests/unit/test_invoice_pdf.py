"""The invoice PDF (R-PAY-3, §6.1.5.3): seller, buyer enterprise (name, tax id), item, amounts and tax,
with Chinese text embedded in a CJK font — checked by extracting the text and rendering the page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium

from services.payment.invoices import (
    COMMON_CHARACTERS,
    InvoiceData,
    common_font,
    full_font,
    render_invoice,
    tax_included,
)

DATA = InvoiceData(
    number="INV20261129ABC",
    issued_at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
    seller_name="counsel 企业法律顾问服务平台",
    seller_tax_id="91310000000000000X",
    buyer_name="演示科技有限公司",
    buyer_tax_id="91310115MA1K000000",
    item="合同审查 标准 Standard",
    amount_fen=99900,
    tax_fen=tax_included(99900),
    currency="CNY",
    order_id="order-1",
)


def test_vat_is_taken_out_of_the_tax_inclusive_price() -> None:
    assert tax_included(99900) == 5655  # 999.00 × 6/106 = 56.547…
    assert tax_included(106) == 6 and tax_included(0) == 0


def test_the_invoice_pdf_carries_every_field_in_chinese_and_renders_it() -> None:
    pdf = render_invoice(DATA)
    assert pdf.startswith(b"%PDF-")
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    text = page.get_textpage().get_text_range()
    for expected in (
        "电子发票",
        "演示科技有限公司",
        "91310115MA1K000000",
        "counsel 企业法律顾问服务平台",
        "合同审查 标准 Standard",
        "942.45",  # net
        "56.55",  # tax
        "999.00",  # total
        "INV20261129ABC",
    ):
        assert expected in text, expected
    # Rendered, the title line has ink: the glyphs are really in the embedded font, not blank boxes.
    image = page.render(scale=1).to_pil().convert("L")
    width, _ = image.size
    title = image.crop((0, 0, width, 60))
    dark = sum(count for value, count in enumerate(title.histogram()) if value < 128)
    assert dark > 500
    assert b"NotoSansCJK" in pdf  # the font is embedded (subset), not assumed on the reader's machine


def test_an_invoice_in_common_characters_uses_the_small_cut_of_the_font_and_a_rarer_one_the_full_font(
    tmp_path: Path,
) -> None:
    common = common_font(tmp_path)
    assert common_font(tmp_path) == common  # cut once, then read from the cache
    assert common.stat().st_size < full_font().stat().st_size / 5
    small = render_invoice(DATA, common)
    assert "演示科技有限公司" in _text(small)
    # 𠮷 (U+20BB7) and 堃 are outside GB 2312: a buyer named with them gets the full font, and the glyphs.
    rare = replace(DATA, buyer_name="𠮷堃科技有限公司")
    assert not {ord(c) for c in rare.buyer_name} <= COMMON_CHARACTERS
    full = render_invoice(rare, common)
    assert "𠮷堃科技有限公司" in _text(full)  # in the common cut they would be missing glyphs, dropped


def _text(pdf: bytes) -> str:
    return str(pdfium.PdfDocument(pdf)[0].get_textpage().get_text_range())
