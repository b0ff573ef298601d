"""Instant-chat rules (R-CS-1, R-CON-1, R-CS-2), free of I/O: who may do what in a conversation, its
states, and the purchase-intent prediction agents see.

A conversation starts with the FAQ bot (`bot`): each client message is answered at once from approved FAQ
content when one matches. A message nothing matches (or a client asking for a person) puts it in the
agent queue (`queued`); an agent picks it up (`active`); the client or the agent closes it (`closed`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.next_purchase import intent
from services.next_purchase.evidence import IntentEvidence
from services.next_purchase.training import intent_weights
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, Unauthenticated

STATUSES = ("bot", "queued", "active", "closed")
QUEUE_STATUSES = ("bot", "queued", "active")
CHAT_STAFF = ("agent", "supervisor")
MAX_BODY = 4000
MAX_CLIENT_MESSAGE_ID = 100
DEFAULT_PAGE = 100
MAX_PAGE = 500

TRANSITIONS: dict[str, frozenset[str]] = {
    "bot": frozenset({"queued", "active", "closed"}),
    "queued": frozenset({"active", "closed"}),
    "active": frozenset({"closed"}),
    "closed": frozenset(),
}

QUEUED_NOTICE = "已为您转接人工客服，请稍候。 We are connecting you with an agent; please wait."
PICKED_UP_NOTICE = "客服已接入，为您服务。 An agent has joined the conversation."
CLOSED_NOTICE = "会话已结束。 The conversation has ended."


def next_status(current: str, wanted: str) -> str:
    if wanted not in TRANSITIONS.get(current, frozenset()):
        raise Conflict(f"a {current} conversation cannot become {wanted}", reason="invalid_transition")
    return wanted


def validate_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise InvalidArgument.for_field("body", "must not be empty")
    if len(body) > MAX_BODY:
        raise InvalidArgument.for_field("body", f"must be at most {MAX_BODY} characters")
    return body


def validate_client_message_id(value: str) -> str:
    if len(value) > MAX_CLIENT_MESSAGE_ID:
        raise InvalidArgument.for_field(
            "client_message_id", f"must be at most {MAX_CLIENT_MESSAGE_ID} characters"
        )
    return value


def page_limit(limit: int) -> int:
    if limit < 0:
        raise InvalidArgument.for_field("limit", "must not be negative")
    return min(limit or DEFAULT_PAGE, MAX_PAGE)


def validate_after_seq(after_seq: int) -> int:
    if after_seq < 0:
        raise InvalidArgument.for_field("after_seq", "must not be negative")
    return after_seq


def signed_in(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("sign in to chat")
    return principal


def is_chat_staff(principal: Principal) -> bool:
    return principal.has_role(*CHAT_STAFF)


def require_chat_staff(principal: Principal | None) -> Principal:
    principal = signed_in(principal)
    if not is_chat_staff(principal):
        raise PermissionDenied("only agents and supervisors serve the chat")
    return principal


def require_chat_client(principal: Principal | None) -> Principal:
    principal = signed_in(principal)
    if not principal.is_client or not principal.tenant_id:
        raise PermissionDenied("only members of a client enterprise start a chat")
    return principal


def can_see(principal: Principal, tenant_id: str, client_id: str) -> bool:
    """The client who chats sees their conversation; agents and supervisors see every one. Nobody else does
    (another enterprise's conversation is "not found")."""
    if principal.is_client:
        return principal.tenant_id == tenant_id and principal.user_id == client_id
    return is_chat_staff(principal)


def check_visible(principal: Principal, tenant_id: str, client_id: str) -> None:
    if not can_see(principal, tenant_id, client_id):
        raise NotFound("no such conversation")


def author_role(principal: Principal, status: str, agent_id: str) -> str:
    """The role a message is written in; refuses agents who do not serve the conversation."""
    if status == "closed":
        raise Conflict("the conversation is closed", reason="conversation_closed")
    if principal.is_client:
        return "client"
    if status != "active" or agent_id != principal.user_id:
        raise Conflict("pick the conversation up before writing in it", reason="not_serving")
    return "agent"


def bot_answer(author_role: str, status: str, faq_found: bool, request_agent: bool) -> str:
    """What follows a message in a conversation: while the bot holds it, a client's message is answered
    from the FAQ ("faq") when an entry matched and the client did not ask for a person, and goes to the
    agent queue ("queue") otherwise; "" when a person serves it or staff wrote."""
    if author_role != "client" or status != "bot":
        return ""
    return "faq" if faq_found and not request_agent else "queue"


def check_pickup(principal: Principal, status: str, agent_id: str) -> bool:
    """Whether picking up changes anything (False: the caller already serves it); Conflict when another
    agent does or it is closed."""
    if status == "active" and agent_id == principal.user_id:
        return False
    if status == "active":
        raise Conflict("another agent serves this conversation", reason="already_picked_up")
    next_status(status, "active")
    return True


def check_close(principal: Principal, status: str, agent_id: str) -> bool:
    """Whether closing changes anything (False: already closed). The client or the serving agent (or a
    supervisor) may close."""
    if status == "closed":
        return False
    if not principal.is_client and not principal.has_role("supervisor") and agent_id != principal.user_id:
        raise Conflict("only the agent serving the conversation closes it", reason="not_serving")
    return True


# --- purchase intent (R-CS-2) -----------------------------------------------------------------------------

# Words in a client's chat that speak to buying: price, ordering, paying, a quote, a contract to draft.
_PURCHASE_WORDS = re.compile(
    r"价格|多少钱|收费|费用|报价|购买|下单|付款|支付|套餐|优惠|怎么买|买|签约|委托|"
    r"price|cost|how much|buy|purchase|order|pay|quote|fee|plan|hire",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signal:
    kind: str  # product_viewed | order_created | order_paid | order_cancelled
    subject_id: str
    occurred_at: datetime


# The purchase-intent signal each kept event is (R-CS-2), by event type.
SIGNAL_KINDS = {
    "product.viewed": "product_viewed",
    "order.created": "order_created",
    "order.paid": "order_paid",
    "order.cancelled": "order_cancelled",
}

LEVELS = ("low", "medium", "high")
# How many recently active clients a leads request scores.
MAX_LEAD_CANDIDATES = 200


def validate_level(level: str) -> str:
    """A minimum intent level ("" = low, everything)."""
    if level and level not in LEVELS:
        raise InvalidArgument.for_field("min_level", f"must be one of {', '.join(LEVELS)}")
    return level or "low"


@dataclass(frozen=True)
class Intent:
    score: float
    level: str
    reasons: list[str]


# The learned logistic model over counted evidence (services/next_purchase/intent.py, trained on generated
# enterprise histories; `counsel analytics report` gives its held-out AUC beside the hand-set weights it
# replaced). Evidence older than the window does not count.
INTENT_WINDOW = timedelta(days=30)


def purchase_intent(
    signals: Iterable[Signal], chat_bodies: Sequence[str], asked_for_agent: bool, now: datetime
) -> Intent:
    """The client's purchase intent from their recent browsing, orders and chat, with its reasons."""
    recent = [s for s in signals if now - s.occurred_at <= INTENT_WINDOW]
    views = [s for s in recent if s.kind == "product_viewed"]
    per_product: dict[str, int] = {}
    for view in views:
        per_product[view.subject_id] = per_product.get(view.subject_id, 0) + 1
    created = {s.subject_id for s in recent if s.kind == "order_created"}
    paid = {s.subject_id for s in recent if s.kind == "order_paid"}
    cancelled = {s.subject_id for s in recent if s.kind == "order_cancelled"}
    unpaid = created - paid - cancelled
    chat_hits = sum(1 for body in chat_bodies if _PURCHASE_WORDS.search(body))
    repeated = sorted(p for p, n in per_product.items() if n > 1)
    evidence = IntentEvidence(
        views=len(views),
        repeated=bool(repeated),
        unpaid=len(unpaid),
        paid=len(paid),
        chat_hits=chat_hits,
        asked_for_agent=asked_for_agent,
    )
    weights = intent_weights()
    shares = intent.contributions(evidence, weights)
    said = {
        "views": f"viewed {len(views)} product page(s) in the last 30 days",
        "repeat": f"came back to product {repeated[0]} {per_product[repeated[0]]} times" if repeated else "",
        "unpaid": f"{len(unpaid)} order(s) created but not paid",
        "paid": f"{len(paid)} paid order(s): a returning buyer",
        "chat": f"asked about prices, orders or payment in chat ({chat_hits}×)",
        "queued": "asked to talk to an agent",
    }
    score = intent.probability(evidence, weights)
    level = "high" if score >= 0.7 else "medium" if score >= 0.4 else "low"
    present = [name for name, value in intent.features(evidence).items() if value]
    reasons = [said[name] for name in sorted(present, key=lambda name: -shares[name])]
    return Intent(round(score, 3), level, reasons or ["no buying signals in the last 30 days"])
