"""Order, payment and ledger rules, free of I/O (R-PAY-1..4): states, allowed transitions, amounts,
double-entry postings and the hash chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.rules.forms import RequirementSpec, validate_requirements_against
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated

ORDER_STATUSES = ("pending_payment", "paid", "in_service", "completed", "cancelled", "refunded")
METHODS = ("alipay", "wechat", "bank", "sandbox")
STAFF_WHO_SEE_ORDERS = ("agent", "supervisor")
STAFF_WHO_REFUND = ("agent", "supervisor")
# How long a client has to pay a new order before its workflow cancels it.
DEFAULT_PAY_WITHIN = timedelta(minutes=30)
# A paid consultation order's terms: its consultation is submitted within this long, or the order is refunded.
DEFAULT_CONSULTATION_USE_WITHIN = timedelta(days=30)
MAX_REQUIREMENTS_BYTES = 64 * 1024

# Allowed order status transitions; cancelled and refunded are final.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_payment": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"in_service", "completed", "refunded"}),
    "in_service": frozenset({"completed", "refunded"}),
    "completed": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    "created": frozenset({"paid", "failed", "closed", "refund_due"}),
    # The provider's word on money is final: a payment closed (by the provider, or by us when the order's
    # time ran out) or failed can still be reported paid — the money arrived anyway — and is then applied to
    # the order, or owed back when the order can no longer take it.
    "closed": frozenset({"paid", "refund_due"}),
    "failed": frozenset({"paid", "refund_due"}),
    # refund_due: the provider took money for an order that was already paid or cancelled.
    "refund_due": frozenset(),
    "paid": frozenset(),
}
GENESIS_HASH = "0" * 64


def next_order_status(current: str, target: str) -> str:
    """`target`, or Conflict (409) when an order in `current` cannot move there."""
    if target not in ORDER_TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a {current} order cannot become {target}", reason="invalid_transition")
    return target


def next_payment_status(current: str, target: str) -> str:
    if target not in PAYMENT_TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a {current} payment cannot become {target}", reason="invalid_transition")
    return target


@dataclass(frozen=True)
class NotificationDecision:
    """What a provider's report does. `outcome`: applied (the order is paid by it), refund_due (money the
    order cannot take, owed back), duplicate (money already accounted for), amount_mismatch (refused,
    recorded, alerted), closed / failed (an open payment ended without money) or ignored (nothing to change,
    e.g. a late "pending"). `payment_status` is the payment's status after it."""

    outcome: str
    payment_status: str


def decide_notification(
    payment_status: str, order_status: str, reported: str, amount_matches: bool
) -> NotificationDecision:
    """The effect of a verified report `reported` (a provider status in our words: paid, pending, closed,
    failed, refunded) on a payment in `payment_status` of an order in `order_status`.

    Money reported paid is accounted for exactly once, whatever came before: applied to an order still
    awaiting payment, otherwise owed back (refund_due) — never refused, even for a payment closed or failed
    earlier. Reports without money never move a payment that is past `created`."""
    if reported != "paid":
        if payment_status == "created" and reported in ("closed", "failed"):
            return NotificationDecision(reported, next_payment_status(payment_status, reported))
        return NotificationDecision("ignored", payment_status)
    if payment_status in ("paid", "refund_due"):
        return NotificationDecision("duplicate", payment_status)
    if not amount_matches:
        return NotificationDecision("amount_mismatch", payment_status)
    if order_status == "pending_payment":
        return NotificationDecision("applied", next_payment_status(payment_status, "paid"))
    return NotificationDecision("refund_due", next_payment_status(payment_status, "refund_due"))


@dataclass(frozen=True)
class LedgerLine:
    """One entry a decision books on an order's ledger (the store chains it onto the ledger)."""

    event: str
    payment_id: str
    amount_fen: int
    data: Mapping[str, Any]
    postings: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class RecordedPayment:
    """A payment as we hold it."""

    id: str
    method: str
    status: str
    amount_fen: int
    currency: str


@dataclass(frozen=True)
class ReportedPayment:
    """What a provider's verified notification says about a payment (`status` in our words)."""

    status: str
    amount_fen: int
    currency: str
    provider_txn_id: str


# The reason of a refund of money an order could not take; it never counts against the order's own refunds.
UNAPPLIED_PAYMENT = "unapplied_payment"


@dataclass(frozen=True)
class OwedRefund:
    """A whole payment owed back on its own, because its order was paid already or cancelled."""

    refund_id: str
    amount_fen: int
    reason: str
    status: str


@dataclass(frozen=True)
class NotificationEffects:
    """Everything a verified notification changes: the outcome and the payment's status after it
    (`decide_notification`), whether money arrived (the payment records the provider's transaction),
    whether it pays the order, the ledger entries to book and the refund owed, if any."""

    outcome: str
    payment_status: str
    money_received: bool = False
    pays_order: bool = False
    ledger: tuple[LedgerLine, ...] = ()
    refund: OwedRefund | None = None


def notification_effects(
    payment: RecordedPayment, order_status: str, report: ReportedPayment, refund_id: str
) -> NotificationEffects:
    """What `report` does to `payment` of an order in `order_status` (R-PAY-2). Money for an order awaiting
    payment pays it; money the order cannot take is refunded in full as `refund_id`, on its own; a report of
    another amount or currency is refused and booked as `amount_mismatch` (alerted)."""
    amount_matches = report.amount_fen == payment.amount_fen and report.currency == payment.currency
    decision = decide_notification(payment.status, order_status, report.status, amount_matches)
    if decision.outcome == "amount_mismatch":
        reported = {
            "expected": payment.amount_fen,
            "reported": report.amount_fen,
            "currency": report.currency,
        }
        mismatch = LedgerLine("amount_mismatch", payment.id, report.amount_fen, reported)
        return NotificationEffects(decision.outcome, decision.payment_status, ledger=(mismatch,))
    if decision.outcome not in ("applied", "refund_due"):
        return NotificationEffects(decision.outcome, decision.payment_status)
    notified = LedgerLine(
        "notified", payment.id, report.amount_fen, {"provider_txn_id": report.provider_txn_id}
    )
    amount, method = payment.amount_fen, payment.method
    if decision.outcome == "applied":
        paid = LedgerLine(
            "paid", payment.id, amount, {"method": method}, tuple(postings_for("paid", method, amount))
        )
        return NotificationEffects(
            decision.outcome,
            decision.payment_status,
            money_received=True,
            pays_order=True,
            ledger=(notified, paid),
        )
    refund = OwedRefund(
        refund_id, amount, f"{UNAPPLIED_PAYMENT}_{order_status}", initial_refund_status(method)
    )
    owed = LedgerLine(
        "paid_unapplied",
        payment.id,
        amount,
        {"order_status": order_status},
        ((cash_account(method), amount), (REFUNDS_DUE, -amount)),
    )
    refunded = LedgerLine(
        "refunded",
        payment.id,
        amount,
        {"reason": UNAPPLIED_PAYMENT, "refund_id": refund_id},
        tuple(postings_for("refunded_unapplied", method, amount)),
    )
    return NotificationEffects(
        decision.outcome,
        decision.payment_status,
        money_received=True,
        ledger=(notified, owed, refunded),
        refund=refund,
    )


def check_payable(status: str, pay_before: datetime, now: datetime) -> None:
    """Conflict (`order_not_payable`) unless the order awaits payment and its time to pay has not passed."""
    if status != "pending_payment":
        raise Conflict(f"a {status} order cannot be paid", reason="order_not_payable")
    if pay_before <= now:
        raise Conflict("the order's time to pay has passed", reason="order_not_payable")


def validate_advance(target: str) -> str:
    """A status an order's workflow moves a paid order to: in_service or completed."""
    if target not in ("in_service", "completed"):
        raise InvalidArgument.for_field("status", "must be in_service or completed")
    return target


def advance_to(current: str, target: str) -> str | None:
    """The status a paid order moves to when its workflow says `target` (`validate_advance`), or None when
    there is nothing to do: the order is there already, or final (its fulfilment was cancelled and refunded
    before the workflow recorded it)."""
    if current in ("refunded", "cancelled") or current == target:
        return None
    return next_order_status(current, target)


def links_fulfilment(status: str, linked_id: str, kind: str, fulfilment_id: str) -> bool:
    """Whether the workflow's move records `kind`/`fulfilment_id` as what fulfils the order: the first one
    it names, unless the order is final."""
    return bool(kind and fulfilment_id) and not linked_id and status not in ("refunded", "cancelled")


def check_issuable(status: str, document: str) -> None:
    """Vouchers and invoices are issued for paid orders only: Conflict (`order_not_paid`) otherwise."""
    if status not in ("paid", "in_service", "completed"):
        raise Conflict(f"a {status} order has no {document}", reason="order_not_paid")


def require_client(principal: Principal | None, action: str) -> Principal:
    if principal is None:
        raise Unauthenticated(f"sign in to {action}")
    if not principal.is_client or not principal.tenant_id:
        raise PermissionDenied(f"only members of a client enterprise can {action}")
    return principal


def require_internal(principal: Principal | None) -> None:
    """Commands only an order's workflow sends (calls without a user token come from inside)."""
    if principal is not None:
        raise PermissionDenied("this is done by the order's workflow")


def require_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidArgument.for_field("method", f"must be one of {', '.join(METHODS)}")
    return method


@dataclass(frozen=True)
class ProductSnapshot:
    """What the catalog said about the product at order time."""

    product_id: str
    name: str
    category: str
    currency: str
    tiers: tuple[dict[str, Any], ...]
    # What a consultation product pays for (professional|phone); "" for other categories.
    consultation_kind: str = ""
    # The product's requirement form: the client's answers are checked against it when ordering.
    requirement_fields: tuple[RequirementSpec, ...] = ()
    # The catalog's approved version of the product these tiers and prices are from.
    version: int = 0


@dataclass(frozen=True)
class NewOrder:
    product_id: str
    product_name: str
    category: str
    tier: dict[str, Any]
    amount_fen: int
    currency: str
    requirements: dict[str, Any]
    booking: dict[str, Any]
    # What a consultation product pays for (professional|phone); "" for other categories.
    consultation_kind: str = ""
    product_version: int = 0


def parse_json_object(raw: str, field: str) -> dict[str, Any]:
    if not raw:
        return {}
    if len(raw.encode()) > MAX_REQUIREMENTS_BYTES:
        raise InvalidArgument.for_field(field, f"must be at most {MAX_REQUIREMENTS_BYTES} bytes")
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidArgument.for_field(field, "must be a JSON object") from exc
    if not isinstance(value, dict):
        raise InvalidArgument.for_field(field, "must be a JSON object")
    return value


def new_order(
    product: ProductSnapshot, tier_id: str, requirements: dict[str, Any], booking: dict[str, Any]
) -> NewOrder:
    """The order for `tier_id` of `product` at the tier's price, or InvalidArgument naming the field. The
    requirements are checked against the product's form here, before any payment (types, required fields,
    choices; the same check the documents service makes when it takes the order on)."""
    tiers = {t["id"]: t for t in product.tiers}
    if not tier_id:
        if len(tiers) != 1:
            raise InvalidArgument.for_field("tier", f"choose one of {', '.join(tiers) or 'no tiers'}")
        tier_id = next(iter(tiers))
    if tier_id not in tiers:
        raise InvalidArgument.for_field("tier", f"must be one of {', '.join(tiers)}")
    tier = tiers[tier_id]
    validate_requirements_against(product.requirement_fields, requirements)
    amount = int(tier["price"])
    if amount <= 0:
        raise InvalidArgument.for_field("tier", "has no price")
    if product.category == "booking" and not str(booking.get("booking_id") or "").strip():
        # Paying confirms a held booking (R-BK-1): hold the slot first with POST /api/v1/bookings.
        raise InvalidArgument.for_field("booking.booking_id", "is required for a booking product")
    return NewOrder(
        product_id=product.product_id,
        product_name=product.name,
        product_version=product.version,
        category=product.category,
        consultation_kind=product.consultation_kind,
        tier=tier,
        amount_fen=amount,
        currency=product.currency,
        requirements=requirements,
        booking=booking,
    )


def check_refundable(status: str, paid: int, refunded: int) -> None:
    """A paid order can be refunded; so can a "refunded" one whose refund a provider refused (money still
    owed to the client). Conflict otherwise."""
    if status in ("paid", "in_service", "completed"):
        return
    if status == "refunded" and refunded < paid:
        return
    raise Conflict(f"a {status} order cannot be refunded", reason="order_not_refundable")


def refund_amount(requested: int, paid: int, refunded: int) -> int:
    """What a refund of `requested` fen (0 = the rest) may return: never more than was paid and not
    yet refunded (no negative balance)."""
    remaining = paid - refunded
    if requested < 0:
        raise InvalidArgument.for_field("amount", "must not be negative")
    amount = requested or remaining
    if remaining <= 0:
        raise Conflict("the order has been refunded in full already", reason="nothing_to_refund")
    if amount > remaining:
        raise InvalidArgument.for_field("amount", f"must be at most the {remaining} fen not yet refunded")
    return amount


@dataclass(frozen=True)
class RefundPlan:
    """A refund of an order: how much, and whether the order is then refunded in full."""

    amount_fen: int
    in_full: bool


def plan_refund(status: str, paid: int, refunded: int, requested: int, paid_payment_id: str) -> RefundPlan:
    """The refund of `requested` fen (0 = the rest) of an order in `status` that was paid `paid` fen by
    `paid_payment_id` and has had `refunded` fen back. Conflict when the order cannot be refunded."""
    check_refundable(status, paid, refunded)
    if not paid_payment_id:
        raise Conflict(f"a {status} order cannot be refunded", reason="order_not_refundable")
    amount = refund_amount(requested, paid, refunded)
    return RefundPlan(amount, refunded + amount == paid)


def initial_refund_status(method: str) -> str:
    """The sandbox refunds at once; other providers' refund APIs are called by the RefundDispatcher."""
    return "succeeded" if method == "sandbox" else "requested"


def refund_settlement(current: str, reported: str) -> str | None:
    """A refund's status after its provider answered `reported` (succeeded, pending or failed), or None
    when the answer changes nothing: the refund was settled already, or nothing new was said."""
    if current not in ("requested", "pending") or current == reported:
        return None
    return reported


def refund_counts_against_order(reason: str) -> bool:
    """Whether a refund returned the order's own money (not that of a payment the order could not take)."""
    return not reason.startswith(UNAPPLIED_PAYMENT)


# -- double-entry postings ---------------------------------------------------------------------------
REVENUE = "revenue:orders"
# Money received for an order that could not take it (paid twice, or already cancelled), owed back.
REFUNDS_DUE = "refunds:due"


def cash_account(method: str) -> str:
    return f"cash:{method}"


def postings_for(event: str, method: str, amount: int) -> list[tuple[str, int]]:
    """Postings (account, signed fen; debit > 0) of a ledger event; empty for events that move no money.
    Every list sums to zero."""
    if event == "paid":
        return [(cash_account(method), amount), (REVENUE, -amount)]
    if event == "refunded":
        return [(REVENUE, amount), (cash_account(method), -amount)]
    if event == "refunded_unapplied":
        return [(REFUNDS_DUE, amount), (cash_account(method), -amount)]
    return []


def reversal(postings: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """The compensating postings of an entry whose money movement did not happen (e.g. a refund the
    provider refused): each posting negated. The ledger is append-only, so a mistake is never edited away;
    it is reversed by a new entry."""
    return [(account, -amount) for account, amount in postings]


def balances(postings: Iterable[tuple[str, int]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for account, amount in postings:
        totals[account] = totals.get(account, 0) + amount
    return totals


# -- hash chain -------------------------------------------------------------------------------------
def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class LedgerFields:
    seq: int
    event: str
    order_id: str
    payment_id: str
    amount_fen: int
    currency: str
    data: str
    created_at: datetime
    postings: tuple[tuple[str, int], ...]


def entry_hash(prev_hash: str, fields: LedgerFields) -> str:
    """SHA-256 (hex) over the previous hash and every field of the entry, postings included."""
    body = canonical(
        {
            "seq": fields.seq,
            "event": fields.event,
            "order_id": fields.order_id,
            "payment_id": fields.payment_id,
            "amount_fen": fields.amount_fen,
            "currency": fields.currency,
            "data": fields.data,
            "created_at": fields.created_at.isoformat(),
            "postings": [list(p) for p in sorted(fields.postings)],
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    valid: bool
    checked: int
    first_broken_seq: int = 0
    problem: str = ""


def verify_chain(entries: Sequence[tuple[LedgerFields, str, str]]) -> ChainReport:
    """Walk `(fields, prev_hash, hash)` in seq order and report the first entry that breaks the chain:
    a gap in seq, a prev_hash that is not the previous hash, a hash that does not match the fields, or
    postings that do not balance."""
    expected_prev = GENESIS_HASH
    for checked, (fields, prev_hash, stored_hash) in enumerate(entries):
        if fields.seq != checked + 1:
            return ChainReport(
                False, checked, fields.seq, f"expected entry {checked + 1}, found {fields.seq}"
            )
        if prev_hash != expected_prev:
            return ChainReport(False, checked, fields.seq, "prev_hash is not the previous entry's hash")
        if entry_hash(prev_hash, fields) != stored_hash:
            return ChainReport(False, checked, fields.seq, "the entry was altered after it was written")
        if sum(amount for _, amount in fields.postings) != 0:
            return ChainReport(False, checked, fields.seq, "the entry's postings do not balance")
        expected_prev = stored_hash
    return ChainReport(True, len(entries))


def yuan(amount_fen: int) -> str:
    """Fen as a yuan decimal string with two places ("999.00"), as Alipay expects amounts."""
    return f"{amount_fen // 100}.{amount_fen % 100:02d}"


def fen_from_yuan(text: str) -> int:
    """Parse a yuan decimal string ("999.00") exactly; ValueError for anything else."""
    whole, _, frac = text.strip().partition(".")
    if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 2)):
        raise ValueError(f"not an amount: {text!r}")
    return int(whole) * 100 + int((frac or "0").ljust(2, "0"))
