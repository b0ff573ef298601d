"""The demo catalog's products (API.md "Demo data"): every category, with the tiers the standard's clocks
come from. Ids are fixed so a restart's seed merges them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.catalog.models import ProductRow
from services.rules import forms

# Document tiers carry the standard's clocks (§6.2.2.2-§6.2.2.4): 30-minute acknowledgement,
# 24/48/72 h delivery and 3/5/7-day revision windows by complexity. Workflows receive them as input.
DOCUMENT_TIERS = [
    {
        "id": "simple",
        "name": "简单 Simple",
        "complexity": "simple",
        "delivery_hours": 24,
        "revision_days": 3,
        "acknowledge_minutes": 30,
    },
    {
        "id": "standard",
        "name": "标准 Standard",
        "complexity": "standard",
        "delivery_hours": 48,
        "revision_days": 5,
        "acknowledge_minutes": 30,
    },
    {
        "id": "complex",
        "name": "复杂 Complex",
        "complexity": "complex",
        "delivery_hours": 72,
        "revision_days": 7,
        "acknowledge_minutes": 30,
    },
]
DOCUMENT_PROCESS = [
    {
        "stage": "paid",
        "title": "已支付 Paid",
        "description": "Payment received; a voucher and an invoice are issued.",
    },
    {
        "stage": "awaiting_acknowledgement",
        "title": "客服确认 Acknowledgement",
        "description": "An agent confirms your requirements within 30 minutes.",
    },
    {
        "stage": "drafting",
        "title": "律师起草 Drafting",
        "description": "Your lawyer drafts within 24/48/72 hours.",
    },
    {
        "stage": "in_review",
        "title": "审核 Review",
        "description": "A senior lawyer reviews the draft before you see it.",
    },
    {
        "stage": "delivered",
        "title": "交付 Delivered",
        "description": "Download the document; request revisions.",
    },
    {
        "stage": "completed",
        "title": "完成 Completed",
        "description": "The revision window ended or you accepted it.",
    },
]
# R-INFO-1: text, images, video links and interactive blocks (structured data the client app renders).
CONSULTATION_MEDIA: list[dict[str, Any]] = [
    {
        "kind": "image",
        "url": "/static/products/consultation.png",
        "caption": "专业律师在线答复 Lawyers online",
    },
    {
        "kind": "video",
        "url": "https://media.counsel.example/videos/how-professional-consultation-works.mp4",
        "caption": "三分钟了解专业咨询流程 How it works in three minutes",
    },
    {
        "kind": "interactive",
        "url": "",
        "caption": "我该选哪种咨询？Which consultation fits?",
        "data": {
            "type": "decision_tree",
            "question": "您的问题是否需要律师书面答复？Do you need a written answer?",
            "answers": [
                {"label": "是 Yes", "product_id": "consult-professional"},
                {"label": "想直接通话 I'd rather talk", "product_id": "consult-phone"},
                {"label": "需要面谈 Meet in person", "product_id": "booking-at-firm"},
            ],
        },
    },
]
CONTRACT_REQUIREMENTS = [
    {
        "name": "contract_type",
        "label": "合同类型 Contract type",
        "type": "choice",
        "required": True,
        "choices": ["买卖 Sale", "服务 Services", "劳动 Employment", "租赁 Lease", "其他 Other"],
    },
    {"name": "parties", "label": "合同各方 Parties", "type": "list", "required": True, "choices": []},
    {"name": "key_terms", "label": "主要条款 Key terms", "type": "textarea", "required": True, "choices": []},
    {
        "name": "deadline",
        "label": "期望签署日期 Signing date",
        "type": "date",
        "required": False,
        "choices": [],
    },
]


def _document(
    product_id: str,
    name: str,
    description: str,
    prices: tuple[int, int, int],
    legal_field: str = "",
    form: list[dict[str, Any]] = CONTRACT_REQUIREMENTS,
) -> ProductRow:
    """A document product with the requirement form `form`; `legal_field` (parameter `legal_field`) is the
    field the documents service matches its lawyer by; without it the order's requirements are classified
    (R-DOC-3)."""
    tiers: list[dict[str, Any]] = [
        dict(tier, price=price) for tier, price in zip(DOCUMENT_TIERS, prices, strict=True)
    ]
    return ProductRow(
        id=product_id,
        category="document",
        name=name,
        description=description,
        price_fen=prices[0],
        tiers=tiers,
        process=DOCUMENT_PROCESS,
        requirement_fields=form,
        parameters={"delivery": "24/48/72 h", "revisions": "unlimited within 3/5/7 days"}
        | ({"legal_field": legal_field} if legal_field else {}),
        media=[{"kind": "image", "url": "/static/products/documents.png", "caption": "Document services"}],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def demo_products() -> list[ProductRow]:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        ProductRow(
            id="consult-professional",
            category="consultation",
            name="专业法律咨询 Professional consultation",
            description="书面提问，专业律师24小时内答复。Ask in writing; a specialist lawyer replies within 24 hours.",
            price_fen=19900,
            consultation_kind="professional",
            tiers=[{"id": "standard", "name": "标准 Standard", "price": 19900, "reply_hours": 24}],
            media=CONSULTATION_MEDIA,
            process=[
                {
                    "stage": "submitted",
                    "title": "提交 Submitted",
                    "description": "Your question is received.",
                },
                {
                    "stage": "assigned",
                    "title": "分配律师 Assigned",
                    "description": "A specialist lawyer is assigned.",
                },
                {
                    "stage": "answered",
                    "title": "答复 Answered",
                    "description": "The lawyer replies within 24 hours.",
                },
                {
                    "stage": "closed",
                    "title": "结束 Closed",
                    "description": "You close it and rate the answer.",
                },
            ],
            requirement_fields=[
                {"name": "topic", "label": "问题领域 Topic", "type": "text", "required": False, "choices": []}
            ],
            parameters={"reply_time": "24 h"},
            created_at=created,
        ),
        ProductRow(
            id="consult-phone",
            category="consultation",
            name="电话法律咨询 Phone consultation",
            description="客服为您接通专业律师电话。An agent bridges your call to a specialist lawyer.",
            price_fen=29900,
            consultation_kind="phone",
            tiers=[{"id": "30min", "name": "30 分钟 30 minutes", "price": 29900, "reply_hours": 24}],
            process=[
                {"stage": "submitted", "title": "提交 Submitted", "description": "Request a call."},
                {
                    "stage": "assigned",
                    "title": "分配律师 Assigned",
                    "description": "An agent finds a lawyer.",
                },
                {"stage": "closed", "title": "结束 Closed", "description": "The call record is kept."},
            ],
            parameters={"length": "30 min"},
            created_at=created,
        ),
        _document(
            "doc-contract-drafting",
            "合同起草 Contract drafting",
            "律师根据您的需求起草合同。A lawyer drafts your contract from your requirements.",
            (49900, 99900, 199900),
            legal_field="contract",
        ),
        _document(
            "doc-contract-review",
            "合同审查 Contract review",
            "审查并修改您的合同。Review and revision of your contract.",
            (39900, 79900, 159900),
            legal_field="contract",
        ),
        _document(
            "doc-lawyer-letter",
            "律师函 Lawyer letter",
            "以律师事务所名义发出的律师函。A formal letter on a law firm's letterhead.",
            (59900, 89900, 129900),
        ),
        # The other document services of the standard (§5.2.3, R-DOC-1), each with its own form.
        _document(
            "doc-litigation-papers",
            "诉讼文书 Litigation papers",
            "起诉状、答辩状、上诉状等诉讼文书的起草。Statements of claim, defences, appeals and other court papers.",
            (39900, 69900, 119900),
            legal_field="litigation",
            form=forms.LITIGATION_PAPERS_FORM,
        ),
        _document(
            "doc-application",
            "申请书 Applications",
            "财产保全、强制执行、仲裁等申请书的起草。Applications for preservation, enforcement, arbitration and more.",
            (29900, 49900, 89900),
            form=forms.APPLICATION_FORM,
        ),
        _document(
            "doc-legal-opinion",
            "法律意见书 Legal opinion",
            "律师就具体事项出具的法律意见书。A lawyer's formal opinion on a matter, for you or a third party.",
            (49900, 99900, 199900),
            form=forms.LEGAL_OPINION_FORM,
        ),
        _document(
            "doc-power-of-attorney",
            "授权委托书 Power of attorney",
            "诉讼或非诉事务的授权委托书。A power of attorney for litigation or other matters.",
            (9900, 19900, 39900),
            form=forms.POWER_OF_ATTORNEY_FORM,
        ),
        ProductRow(
            id="booking-at-firm",
            category="booking",
            name="律所面谈 Meeting at the firm",
            description="到律师事务所与律师面对面沟通。Meet your lawyer face to face at the firm.",
            price_fen=59900,
            tiers=[{"id": "60min", "name": "60 分钟 60 minutes", "price": 59900}],
            process=[
                {"stage": "held", "title": "预留时段 Held", "description": "The slot is held while you pay."},
                {
                    "stage": "confirmed",
                    "title": "已确认 Confirmed",
                    "description": "Reminders 24 h and 1 h before.",
                },
                {
                    "stage": "completed",
                    "title": "完成 Completed",
                    "description": "A meeting summary is recorded.",
                },
            ],
            parameters={"mode": "at_firm"},
            created_at=created,
        ),
        ProductRow(
            id="booking-on-site",
            category="booking",
            name="律师上门 Lawyer visit",
            description="律师到贵公司现场服务。A lawyer visits your company.",
            price_fen=129900,
            tiers=[{"id": "120min", "name": "120 分钟 120 minutes", "price": 129900}],
            process=[
                {"stage": "held", "title": "预留时段 Held", "description": "The slot is held while you pay."},
                {
                    "stage": "confirmed",
                    "title": "已确认 Confirmed",
                    "description": "Reminders 24 h and 1 h before.",
                },
                {"stage": "completed", "title": "完成 Completed", "description": "A visit record is kept."},
            ],
            # Product terms of the booking policy (services/booking/domain.TERM_KEYS): a visit ties up the
            # lawyer's travel, so it is free to cancel only until 48 h before and refunds 30 % later.
            parameters={"mode": "on_site", "free_cancel_hours": "48", "late_refund_percent": "30"},
            created_at=created,
        ),
        ProductRow(
            id="retainer-annual",
            category="retainer",
            name="常年法律顾问 Annual legal counsel",
            description="全年不限次咨询与合同审查。A year of consultations and contract reviews.",
            price_fen=3980000,
            tiers=[{"id": "annual", "name": "年度 Annual", "price": 3980000, "reply_hours": 24}],
            process=[
                {"stage": "paid", "title": "已支付 Paid", "description": "Your retainer starts."},
                {
                    "stage": "in_service",
                    "title": "服务中 In service",
                    "description": "Ask anything, all year.",
                },
            ],
            parameters={"term": "12 months"},
            created_at=created,
        ),
        # The reviews and plans an enterprise buys when a need keeps coming back (the next-purchase
        # analysis suggests them, services/next_purchase).
        _document(
            "doc-labour-compliance",
            "劳动合规审查 Labour compliance review",
            "审查劳动合同、规章制度与用工流程。A review of employment contracts, rules and practices.",
            (49900, 99900, 199900),
            legal_field="labour",
        ),
        _document(
            "doc-equity-structure",
            "股权架构设计 Equity structure",
            "设计股权结构与股东协议。Shareholding structure and shareholders' agreement.",
            (49900, 199900, 399900),
            legal_field="company",
        ),
        _document(
            "doc-ip-protection",
            "知识产权保护方案 IP protection plan",
            "商标、专利与商业秘密的保护方案。A plan for trademarks, patents and trade secrets.",
            (49900, 149900, 299900),
            legal_field="ip",
        ),
        _document(
            "doc-tax-compliance",
            "税务合规审查 Tax compliance review",
            "审查企业税务处理与发票合规。A review of tax treatment and invoicing.",
            (49900, 149900, 299900),
            legal_field="tax",
        ),
        _document(
            "doc-lease-review",
            "租赁合同审查 Lease review",
            "审查厂房、门店与办公租赁合同。Review of factory, shop and office leases.",
            (39900, 79900, 159900),
            legal_field="real_estate",
        ),
        _document(
            "doc-financing-review",
            "融资文件审查 Financing documents review",
            "审查投资协议、借款与担保文件。Review of investment, loan and guarantee documents.",
            (49900, 199900, 399900),
            legal_field="finance",
        ),
    ]
