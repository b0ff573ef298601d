"""Order and ledger rules (R-PAY-2, R-PAY-4): transitions, prices from the catalog snapshot, refunds that
never exceed what was paid, double-entry postings that balance, and the hash chain that names the first
broken link. The ledger is also driven by a hypothesis state machine."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.payment import domain
from services.payment.vouchers import VoucherSigner, voucher_payload
from services.rules.forms import RequirementSpec
from services.runtime.errors import Conflict, InvalidArgument

PRODUCT = domain.ProductSnapshot(
    product_id="p1",
    name="合同审查",
    category="document",
    currency="CNY",
    tiers=({"id": "simple", "price": 49900, "delivery_hours": 24}, {"id": "complex", "price": 129900}),
    requirement_fields=(
        RequirementSpec("contract_type", "text", True),
        RequirementSpec("parties", "list", False),
        RequirementSpec("urgency", "choice", False, ("normal", "urgent")),
        RequirementSpec("amount", "number", False),
    ),
)


def test_an_order_takes_the_tiers_price_and_keeps_a_copy_of_the_tier() -> None:
    order = domain.new_order(PRODUCT, "simple", {"contract_type": "劳动合同"}, {})
    answers = {"contract_type": "劳动合同", "parties": ["甲方", "乙方"], "urgency": "urgent", "amount": 5000}
    assert domain.new_order(PRODUCT, "simple", answers, {}).requirements == answers  # kept as given
    assert order.amount_fen == 49900 and order.tier["delivery_hours"] == 24 and order.category == "document"


def test_bad_order_input_names_the_field() -> None:
    for tier, requirements, field in (
        ("", {"contract_type": "x"}, "tier"),  # two tiers: one must be chosen
        ("gold", {"contract_type": "x"}, "tier"),
        ("simple", {}, "requirements.contract_type"),
        ("simple", {"contract_type": " "}, "requirements.contract_type"),
        ("simple", {"contract_type": 3}, "requirements.contract_type"),  # a text, not a number
        ("simple", {"contract_type": "x", "urgency": "tomorrow"}, "requirements.urgency"),
        ("simple", {"contract_type": "x", "amount": "lots"}, "requirements.amount"),
        ("simple", {"contract_type": "x", "parties": [{"a": 1}]}, "requirements.parties"),
        ("simple", {"contract_type": "x", "colour": "red"}, "requirements.colour"),
    ):
        with pytest.raises(InvalidArgument) as caught:
            domain.new_order(PRODUCT, tier, requirements, {})
        assert caught.value.violations[0].field == field
    with pytest.raises(InvalidArgument):
        domain.parse_json_object("[1]", "requirements")


def test_a_booking_product_names_the_held_booking_it_pays() -> None:
    """R-BK-1: paying a booking product confirms the booking held with POST /api/v1/bookings."""
    product = domain.ProductSnapshot(
        product_id="booking-at-firm",
        name="律所面谈",
        category="booking",
        currency="CNY",
        tiers=({"id": "60min", "price": 59900},),
    )
    assert domain.new_order(product, "", {}, {"booking_id": "b1"}).booking == {"booking_id": "b1"}
    with pytest.raises(InvalidArgument) as caught:
        domain.new_order(product, "", {}, {})
    assert caught.value.violations[0].field == "booking.booking_id"


def test_order_transitions_are_checked() -> None:
    assert domain.next_order_status("pending_payment", "paid") == "paid"
    for current, target in (("pending_payment", "in_service"), ("cancelled", "paid"), ("refunded", "paid")):
        with pytest.raises(Conflict):
            domain.next_order_status(current, target)
    with pytest.raises(Conflict):
        domain.next_payment_status("paid", "paid")  # a payment is paid once


def test_a_refunded_order_is_refundable_again_only_while_money_is_still_owed() -> None:
    domain.check_refundable("in_service", 10000, 0)
    domain.check_refundable("refunded", 10000, 2500)  # a provider refused part of the refund
    for status, refunded in (("refunded", 10000), ("pending_payment", 0), ("cancelled", 0)):
        with pytest.raises(Conflict):
            domain.check_refundable(status, 10000, refunded)


def test_a_reversal_negates_every_posting() -> None:
    original = domain.postings_for("refunded", "alipay", 700)
    assert domain.balances(original + domain.reversal(original)) == {"revenue:orders": 0, "cash:alipay": 0}


def test_refunds_never_exceed_what_was_paid() -> None:
    assert domain.refund_amount(0, 10000, 2500) == 7500
    assert domain.refund_amount(2500, 10000, 0) == 2500
    with pytest.raises(InvalidArgument):
        domain.refund_amount(10001, 10000, 0)
    with pytest.raises(Conflict):
        domain.refund_amount(0, 10000, 10000)


def test_yuan_amounts_parse_exactly() -> None:
    assert domain.fen_from_yuan("999.00") == 99900 and domain.fen_from_yuan("0.5") == 50
    assert domain.yuan(99905) == "999.05"
    for bad in ("1.005", "-1", "abc", "1e3"):
        with pytest.raises(ValueError):
            domain.fen_from_yuan(bad)


def chain(n: int) -> list[tuple[domain.LedgerFields, str, str]]:
    entries, prev = [], domain.GENESIS_HASH
    start = datetime(2026, 11, 29, tzinfo=UTC)
    for seq in range(1, n + 1):
        fields = domain.LedgerFields(
            seq=seq,
            event="paid",
            order_id=f"o{seq}",
            payment_id=f"p{seq}",
            amount_fen=100 * seq,
            currency="CNY",
            data="{}",
            created_at=start + timedelta(seconds=seq),
            postings=tuple(domain.postings_for("paid", "sandbox", 100 * seq)),
        )
        digest = domain.entry_hash(prev, fields)
        entries.append((fields, prev, digest))
        prev = digest
    return entries


def test_an_intact_chain_verifies_and_a_tampered_row_is_named() -> None:
    entries = chain(5)
    assert domain.verify_chain(entries) == domain.ChainReport(True, 5)
    tampered = list(entries)
    fields, prev, digest = tampered[2]
    tampered[2] = (replace(fields, amount_fen=1), prev, digest)
    report = domain.verify_chain(tampered)
    assert (report.valid, report.first_broken_seq) == (False, 3)
    removed = entries[:1] + entries[2:]
    assert domain.verify_chain(removed).first_broken_seq == 3
    unbalanced = list(entries)
    fields, prev, _ = unbalanced[4]
    fields = replace(fields, postings=(("cash:sandbox", 500),))
    unbalanced[4] = (fields, prev, domain.entry_hash(prev, fields))
    assert domain.verify_chain(unbalanced).problem == "the entry's postings do not balance"


def test_a_voucher_signature_covers_every_field() -> None:
    signer = VoucherSigner("x" * 32)
    issued = datetime(2026, 11, 29, tzinfo=UTC)
    payload = voucher_payload("v1", "o1", 19900, "CNY", "p1", issued)
    signature = signer.sign(payload)
    assert signer.verify(payload, signature)
    assert not signer.verify(voucher_payload("v1", "o1", 1, "CNY", "p1", issued), signature)
    assert not VoucherSigner("y" * 32).verify(payload, signature)


class LedgerMachine(RuleBasedStateMachine):
    """Payments and refunds in any order, through the domain's rules: the postings of every entry sum to
    zero, no cash account goes negative, and the hash chain stays valid."""

    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[str, tuple[str, int, int]] = {}  # order → (method, paid, refunded)
        self.entries: list[tuple[domain.LedgerFields, str, str]] = []
        self.open_refunds: list[
            tuple[str, int, int]
        ] = []  # (order, amount, seq of its entry) not yet settled

    def _append(
        self,
        event: str,
        order_id: str,
        method: str,
        amount: int,
        postings: list[tuple[str, int]] | None = None,
    ) -> None:
        prev = self.entries[-1][2] if self.entries else domain.GENESIS_HASH
        fields = domain.LedgerFields(
            seq=len(self.entries) + 1,
            event=event,
            order_id=order_id,
            payment_id=order_id,
            amount_fen=amount,
            currency="CNY",
            data="{}",
            created_at=datetime(2026, 11, 29, tzinfo=UTC),
            postings=tuple(domain.postings_for(event, method, amount) if postings is None else postings),
        )
        self.entries.append((fields, prev, domain.entry_hash(prev, fields)))

    @rule(method=st.sampled_from(domain.METHODS), amount=st.integers(min_value=1, max_value=10_000_000))
    def pay(self, method: str, amount: int) -> None:
        order_id = f"o{len(self.orders)}"
        self.orders[order_id] = (method, amount, 0)
        self._append("paid", order_id, method, amount)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), requested=st.integers(min_value=0, max_value=20_000_000))
    def refund(self, data: st.DataObject, requested: int) -> None:
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        method, paid, refunded = self.orders[order_id]
        try:
            amount = domain.refund_amount(requested, paid, refunded)
        except (Conflict, InvalidArgument):
            return  # refused: nothing is posted
        self.orders[order_id] = (method, paid, refunded + amount)
        self._append("refunded", order_id, method, amount)
        self.open_refunds.append((order_id, amount, len(self.entries)))

    @precondition(lambda self: bool(self.open_refunds))
    @rule(data=st.data(), refused=st.booleans())
    def provider_answers(self, data: st.DataObject, refused: bool) -> None:
        """The provider confirms a refund (nothing to post) or refuses it: a compensating entry reverses the
        refund's postings (the refunded entry itself is never edited) and the money is refundable again."""
        index = data.draw(st.integers(min_value=0, max_value=len(self.open_refunds) - 1))
        order_id, amount, seq = self.open_refunds.pop(index)
        if not refused:
            return
        method, paid, refunded = self.orders[order_id]
        original = self.entries[seq - 1][0]
        self._append("refund_failed", order_id, method, amount, domain.reversal(original.postings))
        self.orders[order_id] = (method, paid, refunded - amount)

    @invariant()
    def postings_sum_to_zero_and_no_cash_account_is_negative(self) -> None:
        postings = [p for fields, _, _ in self.entries for p in fields.postings]
        assert sum(amount for _, amount in postings) == 0
        totals = domain.balances(postings)
        assert all(total >= 0 for account, total in totals.items() if account.startswith("cash:"))

    @invariant()
    def balances_match_what_each_order_kept(self) -> None:
        """Revenue and every cash account hold exactly what was paid and not (successfully or pending)
        refunded: a refused refund leaves no trace in the balances."""
        totals = domain.balances(p for fields, _, _ in self.entries for p in fields.postings)
        kept = sum(paid - refunded for _, paid, refunded in self.orders.values())
        assert -totals.get(domain.REVENUE, 0) == kept
        for method in domain.METHODS:
            held = sum(paid - refunded for m, paid, refunded in self.orders.values() if m == method)
            assert totals.get(domain.cash_account(method), 0) == held

    @invariant()
    def the_chain_verifies(self) -> None:
        assert domain.verify_chain(self.entries).valid


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


# -- what a provider's report does (issue 16, R-PAY-2) -----------------------------------------------------
PAYMENT_STATUSES = tuple(domain.PAYMENT_TRANSITIONS)
REPORTS = ("paid", "pending", "closed", "failed", "refunded")


@pytest.mark.parametrize("payment_status", PAYMENT_STATUSES)
@pytest.mark.parametrize("order_status", domain.ORDER_STATUSES)
@pytest.mark.parametrize("reported", REPORTS)
def test_a_report_of_money_is_never_refused_and_a_report_without_money_never_undoes_it(
    payment_status: str, order_status: str, reported: str
) -> None:
    decision = domain.decide_notification(payment_status, order_status, reported, amount_matches=True)
    had_money = payment_status in ("paid", "refund_due")
    if reported == "paid":
        # Money is accounted for exactly once: kept by the order awaiting it, otherwise owed back.
        expected = (
            "duplicate" if had_money else "applied" if order_status == "pending_payment" else "refund_due"
        )
        assert decision.outcome == expected
        assert decision.payment_status == {"applied": "paid", "refund_due": "refund_due"}.get(
            decision.outcome, payment_status
        )
    elif payment_status == "created" and reported in ("closed", "failed"):
        assert (decision.outcome, decision.payment_status) == (reported, reported)
    else:  # pending, refunded, or a close after the payment ended: nothing moves
        assert (decision.outcome, decision.payment_status) == ("ignored", payment_status)


def test_a_paid_report_of_another_amount_is_refused_and_moves_nothing() -> None:
    for payment_status in ("created", "closed", "failed"):
        decision = domain.decide_notification(payment_status, "pending_payment", "paid", amount_matches=False)
        assert (decision.outcome, decision.payment_status) == ("amount_mismatch", payment_status)
    # A repeat of money already accounted for stays a duplicate whatever its amount says.
    assert domain.decide_notification("paid", "paid", "paid", amount_matches=False).outcome == "duplicate"


def test_a_payment_closed_or_failed_can_still_receive_money_but_money_is_final() -> None:
    for ended in ("closed", "failed"):
        assert domain.next_payment_status(ended, "paid") == "paid"
        assert domain.next_payment_status(ended, "refund_due") == "refund_due"
    for final in ("paid", "refund_due"):
        for target in PAYMENT_STATUSES:
            with pytest.raises(Conflict):
                domain.next_payment_status(final, target)


# -- the money a report moves (R-PAY-2), refunds (R-PAY-3), and what a paid order may still do --------------
def recorded(status: str = "created", method: str = "alipay") -> domain.RecordedPayment:
    return domain.RecordedPayment("pay-1", method, status, 99900, "CNY")


def report(status: str = "paid", amount: int = 99900, currency: str = "CNY") -> domain.ReportedPayment:
    return domain.ReportedPayment(status, amount, currency, "TXN-1")


def test_money_for_an_order_awaiting_it_pays_the_order_and_books_cash_against_revenue() -> None:
    effects = domain.notification_effects(recorded(), "pending_payment", report(), "r-1")
    assert (effects.outcome, effects.payment_status) == ("applied", "paid")
    assert effects.money_received and effects.pays_order and effects.refund is None
    assert [line.event for line in effects.ledger] == ["notified", "paid"]
    assert effects.ledger[0].data == {"provider_txn_id": "TXN-1"}
    assert domain.balances(effects.ledger[1].postings) == {"cash:alipay": 99900, domain.REVENUE: -99900}


@pytest.mark.parametrize(
    ("order_status", "method", "refund_status"),
    [
        ("paid", "alipay", "requested"),
        ("cancelled", "sandbox", "succeeded"),
    ],
)
def test_money_an_order_cannot_take_is_refunded_whole_and_leaves_nothing_owed(
    order_status: str, method: str, refund_status: str
) -> None:
    effects = domain.notification_effects(recorded(method=method), order_status, report(), "r-1")
    assert (effects.outcome, effects.payment_status) == ("refund_due", "refund_due")
    assert effects.money_received and not effects.pays_order
    assert effects.refund == domain.OwedRefund(
        "r-1", 99900, f"unapplied_payment_{order_status}", refund_status
    )
    assert [line.event for line in effects.ledger] == ["notified", "paid_unapplied", "refunded"]
    assert effects.ledger[2].data == {"reason": "unapplied_payment", "refund_id": "r-1"}
    totals = domain.balances(p for line in effects.ledger for p in line.postings)
    assert totals == {f"cash:{method}": 0, domain.REFUNDS_DUE: 0}
    assert not domain.refund_counts_against_order(effects.refund.reason)


@pytest.mark.parametrize(("amount", "currency"), [(100, "CNY"), (99900, "USD")])
def test_a_report_of_another_amount_or_currency_is_booked_as_a_mismatch_and_moves_no_money(
    amount: int, currency: str
) -> None:
    effects = domain.notification_effects(
        recorded(), "pending_payment", report(amount=amount, currency=currency), "r"
    )
    assert (effects.outcome, effects.payment_status) == ("amount_mismatch", "created")
    assert not effects.money_received and not effects.pays_order and effects.refund is None
    [line] = effects.ledger
    assert (line.event, line.amount_fen, line.postings) == ("amount_mismatch", amount, ())
    assert line.data == {"expected": 99900, "reported": amount, "currency": currency}


def test_reports_without_new_money_book_nothing() -> None:
    for payment_status, reported in (("paid", "paid"), ("created", "pending"), ("created", "closed")):
        effects = domain.notification_effects(
            recorded(payment_status), "pending_payment", report(reported), "r"
        )
        assert effects.ledger == () and effects.refund is None and not effects.money_received


def test_an_order_is_payable_only_while_it_awaits_payment_in_time() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    domain.check_payable("pending_payment", now + timedelta(seconds=1), now)
    for status, pay_before in (("pending_payment", now), ("paid", now + timedelta(hours=1))):
        with pytest.raises(Conflict) as refused:
            domain.check_payable(status, pay_before, now)
        assert refused.value.reason == "order_not_payable"


def test_a_refund_plan_returns_the_rest_and_says_when_the_order_is_refunded_in_full() -> None:
    assert domain.plan_refund("paid", 10000, 0, 3000, "pay-1") == domain.RefundPlan(3000, in_full=False)
    assert domain.plan_refund("in_service", 10000, 3000, 0, "pay-1") == domain.RefundPlan(7000, in_full=True)
    with pytest.raises(Conflict):  # paid, but by no payment of ours (nothing to refund through)
        domain.plan_refund("paid", 10000, 0, 0, "")
    with pytest.raises(Conflict):
        domain.plan_refund("cancelled", 10000, 0, 0, "pay-1")


def test_a_providers_answer_settles_an_open_refund_once() -> None:
    assert domain.refund_settlement("requested", "succeeded") == "succeeded"
    assert domain.refund_settlement("pending", "failed") == "failed"
    assert domain.refund_settlement("requested", "requested") is None
    for settled in ("succeeded", "failed"):
        assert domain.refund_settlement(settled, "failed") is None
    assert domain.initial_refund_status("sandbox") == "succeeded"
    assert domain.initial_refund_status("wechat") == "requested"
    assert domain.refund_counts_against_order("agent_refund")


def test_a_paid_order_advances_once_and_a_final_one_stays_final() -> None:
    assert domain.advance_to("paid", domain.validate_advance("in_service")) == "in_service"
    assert domain.advance_to("in_service", "completed") == "completed"
    assert domain.advance_to("in_service", "in_service") is None
    for final in ("refunded", "cancelled"):
        assert domain.advance_to(final, "completed") is None
    with pytest.raises(InvalidArgument):
        domain.validate_advance("paid")
    with pytest.raises(Conflict):
        domain.advance_to("pending_payment", "in_service")


def test_the_first_fulfilment_named_is_the_orders_unless_the_order_is_final() -> None:
    assert domain.links_fulfilment("paid", "", "document", "d-1")
    assert domain.links_fulfilment("in_service", "", "consultation", "c-1")  # the client started it
    assert not domain.links_fulfilment("in_service", "c-1", "consultation", "c-2")
    assert not domain.links_fulfilment("in_service", "", "", "")
    for final in ("refunded", "cancelled"):
        assert not domain.links_fulfilment(final, "", "document", "d-1")


def test_vouchers_and_invoices_are_issued_for_paid_orders_only() -> None:
    for paid in ("paid", "in_service", "completed"):
        domain.check_issuable(paid, "voucher")
    with pytest.raises(Conflict) as refused:
        domain.check_issuable("pending_payment", "invoice")
    assert refused.value.reason == "order_not_paid" and "invoice" in str(refused.value)
