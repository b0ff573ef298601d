"""Instant-chat rules without I/O: FAQ retrieval and its relevance threshold over the seeded FAQ (R-CS-1,
R-CON-1), conversation states and who may act (R-CS-1), the purchase-intent prediction (R-CS-2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.catalog.seed import demo_articles
from services.consultation import chat
from services.consultation.faq import MIN_SCORE, FaqEntry, FaqIndex
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated

# Rephrased FAQ questions (not the seeded wording) and the entry that answers each.
GENERAL = {
    "咨询律师要多少钱？": "faq-consultation-price",
    "律师咨询的价格": "faq-consultation-price",
    "How much is a consultation?": "faq-consultation-price",
    "律师多久能回复我的问题": "faq-reply-time",
    "我想退款怎么办": "faq-refund",
    "how do I get a refund": "faq-refund",
    "可以开发票吗": "faq-invoice",
    "能用支付宝付款吗": "faq-payment-methods",
    "能用微信支付吗": "faq-payment-methods",
    "can I pay with wechat": "faq-payment-methods",
    "合同起草多久能完成": "faq-document-delivery",
    "怎么预约律师见面": "faq-booking",
    "我的个人信息安全吗": "faq-privacy",
    "密码忘了怎么登录": "faq-password-reset",
    "客服几点上班": "faq-service-hours",
    "客服什么时候在线": "faq-service-hours",
    "我要投诉": "faq-complaint",
}
# Questions that need a lawyer (or are greetings): no FAQ answer may be given, they go to the queue.
NOT_FAQ = [
    "公司拖欠我三个月工资怎么办",
    "试用期被辞退有赔偿吗",
    "商标被别人抢注了怎么处理",
    "房东不退押金可以起诉吗",
    "股东之间股权纠纷如何解决",
    "我的专利被侵权了",
    "增值税发票虚开会有什么后果",
    "离婚财产怎么分割",
    "劳动仲裁需要什么材料",
    "合同违约金过高怎么办",
    "公司注销流程",
    "My employer fired me without notice",
    "hello",
    "你好",
]

CLIENT = Principal("client-1", "tenant-1", frozenset({"client"}))
COLLEAGUE = Principal("client-2", "tenant-1", frozenset({"client_admin"}))
OTHER_TENANT = Principal("client-3", "tenant-2", frozenset({"client"}))
AGENT = Principal("agent-1", "", frozenset({"agent"}))
OTHER_AGENT = Principal("agent-2", "", frozenset({"agent"}))
SUPERVISOR = Principal("supervisor-1", "", frozenset({"supervisor"}))
LAWYER = Principal("lawyer-1", "", frozenset({"lawyer"}))


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex(
        [
            FaqEntry(article.id, versions[0].title, versions[0].body)
            for article, versions in demo_articles()
            if article.kind == "faq"
        ]
    )


def test_rephrased_general_questions_get_the_right_faq_answer(index: FaqIndex) -> None:
    answered = {question: index.best(question) for question in GENERAL}
    right = [q for q, match in answered.items() if match is not None and match.entry.article_id == GENERAL[q]]
    wrong = [q for q, match in answered.items() if match is not None and match.entry.article_id != GENERAL[q]]
    assert not wrong, wrong  # a wrong answer is worse than the queue
    assert len(right) >= 0.9 * len(GENERAL), sorted(set(GENERAL) - set(right))


def test_questions_for_a_lawyer_get_no_faq_answer(index: FaqIndex) -> None:
    scores = {q: index.score_all(q)[0].score for q in NOT_FAQ}
    assert all(score < MIN_SCORE for score in scores.values()), scores
    assert all(index.best(q) is None for q in NOT_FAQ)


def test_other_articles_than_faq_entries_are_not_answers_by_default(index: FaqIndex) -> None:
    assert {e.article_id for e in index.entries} == {a.id for a, _ in demo_articles() if a.kind == "faq"}
    assert FaqIndex([]).best("咨询律师要多少钱？") is None


def test_conversation_states_move_forward_only() -> None:
    assert chat.next_status("bot", "queued") == "queued"
    assert chat.next_status("queued", "active") == "active"
    assert chat.next_status("bot", "active") == "active"  # an agent follows up on intent
    for current, wanted in [
        ("active", "queued"),
        ("closed", "active"),
        ("queued", "bot"),
        ("closed", "closed"),
    ]:
        with pytest.raises(Conflict):
            chat.next_status(current, wanted)


def test_who_sees_and_writes_in_a_conversation() -> None:
    assert chat.can_see(CLIENT, "tenant-1", "client-1")
    assert not chat.can_see(COLLEAGUE, "tenant-1", "client-1")
    assert not chat.can_see(OTHER_TENANT, "tenant-1", "client-1")
    assert not chat.can_see(LAWYER, "tenant-1", "client-1")
    assert chat.can_see(AGENT, "tenant-1", "client-1") and chat.can_see(SUPERVISOR, "tenant-1", "client-1")
    with pytest.raises(NotFound):
        chat.check_visible(OTHER_TENANT, "tenant-1", "client-1")
    assert chat.author_role(CLIENT, "bot", "") == "client"
    assert chat.author_role(AGENT, "active", "agent-1") == "agent"
    for principal, status, agent in [(AGENT, "queued", ""), (OTHER_AGENT, "active", "agent-1")]:
        with pytest.raises(Conflict):
            chat.author_role(principal, status, agent)
    with pytest.raises(Conflict):
        chat.author_role(CLIENT, "closed", "")


def test_pickup_and_close_rules() -> None:
    assert chat.check_pickup(AGENT, "queued", "") is True
    assert chat.check_pickup(AGENT, "active", "agent-1") is False  # a retry changes nothing
    with pytest.raises(Conflict, match="another agent"):
        chat.check_pickup(OTHER_AGENT, "active", "agent-1")
    with pytest.raises(Conflict):
        chat.check_pickup(AGENT, "closed", "")
    assert chat.check_close(CLIENT, "queued", "") is True
    assert chat.check_close(SUPERVISOR, "active", "agent-1") is True
    assert chat.check_close(AGENT, "closed", "agent-1") is False
    with pytest.raises(Conflict):
        chat.check_close(OTHER_AGENT, "active", "agent-1")
    with pytest.raises(PermissionDenied):
        chat.require_chat_staff(CLIENT)
    with pytest.raises(PermissionDenied):
        chat.require_chat_client(AGENT)
    with pytest.raises(Unauthenticated):
        chat.signed_in(None)


def test_bad_input_names_the_field() -> None:
    for call, field in [
        (lambda: chat.validate_body("  "), "body"),
        (lambda: chat.validate_body("x" * (chat.MAX_BODY + 1)), "body"),
        (lambda: chat.validate_client_message_id("x" * 101), "client_message_id"),
        (lambda: chat.validate_after_seq(-1), "after_seq"),
        (lambda: chat.page_limit(-1), "limit"),
    ]:
        with pytest.raises(InvalidArgument) as refused:
            call()
        assert refused.value.violations[0].field == field
    assert chat.validate_body("  你好 ") == "你好"
    assert chat.page_limit(0) == chat.DEFAULT_PAGE and chat.page_limit(10_000) == chat.MAX_PAGE


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def signal(kind: str, subject: str = "p1", days_ago: float = 1) -> chat.Signal:
    return chat.Signal(kind, subject, NOW - timedelta(days=days_ago))


def test_purchase_intent_rises_with_buying_signals_and_says_why() -> None:
    nothing = chat.purchase_intent([], [], False, NOW)
    assert nothing.level == "low" and nothing.reasons == ["no buying signals in the last 30 days"]
    browsing = chat.purchase_intent([signal("product_viewed")], ["你好"], False, NOW)
    asking = chat.purchase_intent(
        [signal("product_viewed"), signal("product_viewed")], ["这个套餐多少钱？"], True, NOW
    )
    stalled = chat.purchase_intent(
        [signal("product_viewed"), signal("product_viewed"), signal("order_created", "o1")],
        ["怎么付款"],
        False,
        NOW,
    )
    assert nothing.score < browsing.score < asking.score < stalled.score
    assert stalled.level == "high"
    assert stalled.reasons[0] == "1 order(s) created but not paid"
    assert "came back to product p1 2 times" in stalled.reasons
    assert any("prices, orders or payment" in r for r in asking.reasons)


def test_paid_or_cancelled_orders_are_not_stalled_and_old_signals_do_not_count() -> None:
    paid = chat.purchase_intent([signal("order_created", "o1"), signal("order_paid", "o1")], [], False, NOW)
    assert not any("not paid" in r for r in paid.reasons)
    assert any("returning buyer" in r for r in paid.reasons)
    cancelled = chat.purchase_intent(
        [signal("order_created", "o1"), signal("order_cancelled", "o1")], [], False, NOW
    )
    assert cancelled.level == "low"
    old = chat.purchase_intent([signal("order_created", "o1", days_ago=45)], [], False, NOW)
    assert old.level == "low"


def test_the_reply_clock_is_the_tiers_reply_hours_with_24_h_by_default() -> None:
    """Deliverable of issue 6: `reply_due_at` from the bought tier's `reply_hours` (copied on the order)."""
    from services.consultation.domain import reply_within

    assert reply_within("professional", 48) == timedelta(hours=48)
    assert reply_within("professional", None) == timedelta(hours=24)
    assert reply_within("professional", 0) == timedelta(hours=24)
    assert reply_within("general", 48) is None
    assert reply_within("phone", 24) is None


def test_an_order_shows_its_tiers_reply_hours_as_copied_at_order_time() -> None:
    from services.payment.models import OrderRow
    from services.payment.server import order_proto

    def order(tier: dict[str, object]) -> OrderRow:
        return OrderRow(
            id="o1", tenant_id="t1", client_id="c1", product_id="p1", status="paid", amount_fen=100,
            currency="CNY", pay_before=NOW, created_at=NOW, updated_at=NOW, tier=tier,
        )  # fmt: skip

    assert order_proto(order({"id": "standard", "reply_hours": 48})).reply_hours == 48
    assert not order_proto(order({"id": "simple", "delivery_hours": 24})).HasField("reply_hours")


async def test_the_faq_source_keeps_working_when_the_catalog_is_down() -> None:
    from services.consultation.faq import FaqSource

    calls = 0
    entries = [FaqEntry("faq-refund", "订单可以退款吗？怎么申请退款？", "可以。")]

    async def fetch() -> list[FaqEntry]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("catalog unavailable")
        return entries

    source = FaqSource(fetch, refresh_seconds=0.0, retry_seconds=0.0)
    assert await source.best("我想退款") is None  # no index yet: the question goes to the queue
    match = await source.best("我想退款怎么办")
    assert match is not None and match.entry.article_id == "faq-refund"


def test_a_lead_filter_names_its_field() -> None:
    assert chat.validate_level("") == "low" and chat.validate_level("high") == "high"
    with pytest.raises(InvalidArgument) as refused:
        chat.validate_level("huge")
    assert refused.value.violations[0].field == "min_level"
