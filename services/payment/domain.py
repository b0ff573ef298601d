"""Order, payment and ledger rules, free of I/O (R-PAY-1..4): states, allowed transitions, amounts,
double-entry postings and the hash chain."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated
from services.runtime.forms import RequirementSpec, validate_requirements_against

ORDER_STATUSES = ("pending_payment", "paid", "in_service", "completed", "cancelled", "refunded")
METHODS = ("alipay", "wechat", "bank", "sandbox")
STAFF_WHO_SEE_ORDERS = ("agent", "supervisor")
STAFF_WHO_REFUND = ("agent", "supervisor")
# How long a client has to pay a new order before its workflow cancels it.
DEFAULT_PAY_WITHIN = timedelta(minutes=30)
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
    # The product's requirement form: the client's answers are checked against it when ordering.
    requirement_fields: tuple[RequirementSpec, ...] = ()


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
        category=product.category,
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
# A reason code like `client_request` or `payment_timeout`; anything else is free text someone typed.
_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
STATED_REASON = "stated"


def ledger_reason(reason: str) -> str:
    """What the append-only ledger records as a cancellation's or refund's reason: the code itself, or
    `stated` for free text. The ledger can never be changed, so it must never hold words a person typed
    (they may be personal data that an erasure request removes, R-PRIV-1); the text stays in the refund
    row and the event, which erasure reaches."""
    return reason if _REASON_CODE.fullmatch(reason) else STATED_REASON


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


# -- reconciliation ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One disagreement between the ledger and a provider's statement for a day."""

    provider: str
    payment_id: str
    kind: str  # missing_in_ledger | missing_at_provider | amount_differs
    ledger_fen: int
    provider_fen: int


def compare_statement(
    provider: str, booked: Mapping[str, int], statement: Mapping[str, int]
) -> list[Difference]:
    """What the ledger's payments of a provider (payment id → fen) and the provider's statement of the same
    period disagree on, by payment id."""
    differences: list[Difference] = []
    for payment_id in sorted(set(booked) | set(statement)):
        in_ledger, at_provider = booked.get(payment_id), statement.get(payment_id)
        if in_ledger is None:
            differences.append(Difference(provider, payment_id, "missing_in_ledger", 0, at_provider or 0))
        elif at_provider is None:
            differences.append(Difference(provider, payment_id, "missing_at_provider", in_ledger, 0))
        elif in_ledger != at_provider:
            differences.append(Difference(provider, payment_id, "amount_differs", in_ledger, at_provider))
    return differences


# -- the order's timeline (§9.2, R-Q-3) -------------------------------------------------------------
FINAL_ORDER_STATUSES = ("completed", "cancelled", "refunded")


@dataclass(frozen=True)
class StageFact:
    """A stage some service recorded for the order: its own stages (payment) or its fulfilment's, as the
    owning service (documents, consultation, booking) reported them."""

    stage: str
    entered_at: datetime
    due_at: datetime | None
    actor: str


@dataclass(frozen=True)
class TimelineEntry:
    stage: str
    status: str  # done|current|pending
    entered_at: datetime | None
    due_at: datetime | None
    actor: str


def join_timeline(
    payment: Sequence[StageFact],
    fulfilment: Sequence[StageFact],
    fulfilment_kind: str,
    process: Sequence[str],
    order_status: str,
) -> list[TimelineEntry]:
    """One timeline from the order's payment stages and its fulfilment's stages, oldest first.

    - The fulfilment's stages follow the payment stage that started it (`in_service` or `<kind>_started`),
      so the client reads payment → fulfilment → what came after; every stage keeps the entered time, due
      time and actor its owner recorded. A fulfilment that began before the order did (a booking is held,
      then its order paid, R-BK-1) is interleaved with payment's stages in time order instead.
    - A stage the fulfilment owns (e.g. `completed` of a document order) is shown once, as its owner
      recorded it; a stage entered several times (drafting after a rejection) appears each time.
    - The last entered stage is `current` unless the order is final (completed, cancelled, refunded);
      every earlier one is `done`.
    - While the order is open, the product's process stages after the furthest one reached are `pending`,
      with no times.
    """
    owned = {f.stage for f in fulfilment}
    starters = {"in_service", f"{fulfilment_kind}_started"} if fulfilment_kind else set()
    kept = [p for p in payment if p.stage not in owned or not fulfilment]
    began = min((f.entered_at for f in fulfilment), default=None)
    if began is not None and payment and began < min(p.entered_at for p in payment):
        # The fulfilment existed before the order (a booking is held, then paid): one story in time order.
        entered = sorted([*kept, *fulfilment], key=lambda s: s.entered_at)
    elif began is not None:
        head = [p for p in kept if p.stage in starters or p.entered_at <= began]
        tail = [p for p in kept if p not in head]
        entered = head + sorted([*fulfilment, *tail], key=lambda s: s.entered_at)
    else:
        entered = list(kept)
    final = order_status in FINAL_ORDER_STATUSES
    timeline = [
        TimelineEntry(
            stage=s.stage,
            status="current" if i == len(entered) - 1 and not final else "done",
            entered_at=s.entered_at,
            due_at=s.due_at,
            actor=s.actor,
        )
        for i, s in enumerate(entered)
    ]
    if final:
        return timeline
    reached = {s.stage for s in entered}
    furthest = max((i for i, stage in enumerate(process) if stage in reached), default=-1)
    timeline.extend(
        TimelineEntry(stage=stage, status="pending", entered_at=None, due_at=None, actor="")
        for stage in process[furthest + 1 :]
        if stage not in reached
    )
    return timeline
