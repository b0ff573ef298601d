"""What an enterprise's history says, as the features both models read, and how each reads in Chinese.

A history is a sequence of `histories.Event`s with `at` in days (generated histories count from their
start; catalog's live ones from the Unix epoch — only differences matter). Features are counted over a
window before the moment of the prediction and capped, so one busy week does not outweigh the rest."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.legal_fields import LABELS
from services.next_purchase.histories import LOW_RATING, Event

QUARTER_DAYS = 91
MONTH_DAYS = 30
YEAR_DAYS = 365
# Counts above these add nothing more.
MAX_CONSULTATIONS = 3
MAX_VIEWS = 3

_CHINESE_COUNTS = ("零", "一", "两", "三", "四", "五", "六", "七", "八", "九", "十")


def next_purchase_features(events: Sequence[Event], now: float) -> dict[str, float]:
    """The recommender's features of the history before `now`:
    `consultations:<field>` (this quarter, capped), `viewed:<product>` (this month, capped),
    `bought:<product>` (this year), `low_rating:<product>` (this quarter), `booking`, `visit` (this
    quarter)."""
    found: Counter[str] = Counter()
    for event in events:
        age = now - event.at
        if age <= 0 or age > YEAR_DAYS:
            continue
        if event.kind == "consultation" and age <= QUARTER_DAYS:
            found[f"consultations:{event.subject}"] += 1
        elif event.kind == "viewed" and age <= MONTH_DAYS:
            found[f"viewed:{event.subject}"] += 1
        elif event.kind == "order_paid":
            found[f"bought:{event.subject}"] = 1
        elif event.kind == "rated" and event.stars <= LOW_RATING and age <= QUARTER_DAYS:
            found[f"low_rating:{event.subject}"] = 1
        elif event.kind in ("booking", "visit") and age <= QUARTER_DAYS:
            found[event.kind] = 1
    return {
        name: float(
            min(count, MAX_CONSULTATIONS)
            if name.startswith("consultations:")
            else min(count, MAX_VIEWS)
            if name.startswith("viewed:")
            else count
        )
        for name, count in found.items()
    }


def chinese_count(count: int) -> str:
    return _CHINESE_COUNTS[count] if count < len(_CHINESE_COUNTS) else str(count)


def describe(feature: str, value: float, names: Mapping[str, str]) -> str:
    """What a feature says about the enterprise, in Chinese ("本季度三次劳动咨询"); `names` are the
    products' Chinese names (a product without one is shown by its id)."""
    kind, _, subject = feature.partition(":")
    count = round(value)
    name = names.get(subject, subject)
    if kind == "consultations":
        return f"本季度{chinese_count(count)}次{LABELS.get(subject, subject)}咨询"
    if kind == "viewed":
        return f"近30天浏览「{name}」{count}次"
    if kind == "bought":
        return f"今年已购买「{name}」"
    if kind == "low_rating":
        return f"对「{name}」的评价不高"
    if kind == "booking":
        return "本季度与律师面谈过"
    if kind == "visit":
        return "本季度律师上门服务过"
    return feature


@dataclass(frozen=True)
class IntentEvidence:
    """What the purchase-intent score reads about one client over the last 30 days."""

    views: int  # product pages viewed
    repeated: bool  # a product viewed more than once
    unpaid: int  # orders created, neither paid nor cancelled
    paid: int  # orders paid
    chat_hits: int  # chat messages about prices, orders, payment
    asked_for_agent: bool


def intent_evidence(events: Sequence[Event], now: float) -> IntentEvidence:
    """The intent evidence of a generated history before `now` (consultation reads the same from its
    signals and chat)."""
    recent = [e for e in events if 0 < now - e.at <= MONTH_DAYS]
    views = Counter(e.subject for e in recent if e.kind == "viewed")
    created = Counter(e.subject for e in recent if e.kind == "order_created")
    closed = Counter(e.subject for e in recent if e.kind in ("order_paid", "order_cancelled"))
    return IntentEvidence(
        views=sum(views.values()),
        repeated=any(n > 1 for n in views.values()),
        unpaid=sum((created - closed).values()),
        paid=sum(1 for e in recent if e.kind == "order_paid"),
        chat_hits=sum(1 for e in recent if e.kind == "chat_price"),
        asked_for_agent=any(e.kind == "queued" for e in recent),
    )
