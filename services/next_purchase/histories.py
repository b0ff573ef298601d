"""A seeded generator of enterprise histories: what a firm's client enterprises do over a year, with the
patterns the standard's next-purchase analysis looks for (§5.5).

There is no labelled purchase history to learn from yet, so the models learn from these. What the
generator encodes, and so what a model can find:
- an industry has its legal needs (a factory asks about labour, a software house about IP and contracts,
  a builder about contracts and disputes) and each quarter one need runs hot;
- the size sets how often an enterprise asks, and large ones with many questions take an annual retainer;
- a need that keeps coming back is bought for: the more consultations in a field within a quarter, the
  likelier the field's product (three labour consultations → the labour-compliance review);
- a purchase is prepared: its product page viewed, the price asked in chat, sometimes a person asked for,
  an order created days before it is paid; some orders are abandoned, some pages only browsed;
- a delivered document is rated, and a poor rating is often followed by a meeting at the firm.
The same seed always gives the same histories (one `random.Random` per enterprise)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

# The products the models know: each with the legal field whose need it answers ("" = any).
PRODUCT_FIELDS: dict[str, str] = {
    "consult-professional": "",
    "consult-phone": "",
    "booking-at-firm": "",
    "booking-on-site": "",
    "retainer-annual": "",
    "doc-contract-drafting": "contract",
    "doc-contract-review": "contract",
    "doc-lawyer-letter": "litigation",
    "doc-labour-compliance": "labour",
    "doc-equity-structure": "company",
    "doc-ip-protection": "ip",
    "doc-tax-compliance": "tax",
    "doc-lease-review": "real_estate",
    "doc-financing-review": "finance",
}
PRODUCTS: tuple[str, ...] = tuple(PRODUCT_FIELDS)
# What a recurring need in a field leads to buying.
FIELD_PRODUCTS: dict[str, tuple[str, ...]] = {
    "labour": ("doc-labour-compliance", "doc-labour-compliance", "booking-on-site"),
    "contract": ("doc-contract-review", "doc-contract-drafting"),
    "company": ("doc-equity-structure",),
    "ip": ("doc-ip-protection",),
    "tax": ("doc-tax-compliance",),
    "litigation": ("doc-lawyer-letter", "booking-at-firm"),
    "real_estate": ("doc-lease-review",),
    "finance": ("doc-financing-review",),
}
FIELDS: tuple[str, ...] = tuple(FIELD_PRODUCTS)
# How often an industry's questions are in each field (relative; a field not named is 0.2).
INDUSTRY_FIELDS: dict[str, dict[str, float]] = {
    "manufacturing": {"labour": 5, "contract": 3, "ip": 1, "tax": 1, "litigation": 1},
    "technology": {"ip": 5, "contract": 3, "labour": 2, "company": 2, "finance": 1},
    "retail": {"contract": 4, "labour": 3, "real_estate": 2, "litigation": 1, "tax": 1},
    "construction": {"contract": 4, "litigation": 4, "labour": 3, "real_estate": 1},
    "finance": {"finance": 5, "company": 3, "contract": 2, "tax": 2},
    "catering": {"labour": 4, "real_estate": 3, "contract": 2, "litigation": 1},
    "trading": {"contract": 5, "tax": 3, "litigation": 2, "finance": 1},
}
INDUSTRIES: tuple[str, ...] = tuple(INDUSTRY_FIELDS)
# Consultations a month by size, and how many enterprises are of each size.
SIZE_CONSULTATIONS_PER_MONTH = {"small": 0.8, "medium": 1.8, "large": 3.5}
SIZE_SHARE = {"small": 5, "medium": 3, "large": 2}
DAYS = 365
LOW_RATING = 2  # stars at or below which a rating is poor


@dataclass(frozen=True)
class Event:
    """One thing an enterprise did, `at` days after its history began.

    kind: consultation (subject: its legal field) | viewed | order_created | order_paid | order_cancelled
    (subject: the product) | rated (subject: the product, stars) | booking | visit | chat_price (asked
    about prices in chat) | queued (asked for a person)."""

    at: float
    kind: str
    subject: str = ""
    stars: int = 0


@dataclass(frozen=True)
class History:
    enterprise_id: str
    industry: str
    size: str
    events: tuple[Event, ...]


@dataclass
class _Simulation:
    rng: random.Random
    events: list[Event] = field(default_factory=list)
    # Purchases decided but not yet made: (day, product).
    pending: list[tuple[float, str]] = field(default_factory=list)
    retained_until: float = -1.0

    def consultations_since(self, day: float, in_field: str = "") -> int:
        return sum(
            1
            for e in self.events
            if e.kind == "consultation" and e.at >= day and (not in_field or e.subject == in_field)
        )

    def bought_since(self, product: str, day: float) -> bool:
        return any(e.kind == "order_paid" and e.subject == product and e.at >= day for e in self.events)

    def purchase(self, product: str, day: float) -> None:
        """A purchase paid on `day` and the steps that prepare and follow it."""
        rng = self.rng
        if rng.random() < 0.7:
            for _ in range(rng.randint(1, 3)):
                self.events.append(Event(day - rng.uniform(0.1, 7), "viewed", product))
        if rng.random() < 0.4:
            self.events.append(Event(day - rng.uniform(0, 5), "chat_price"))
        if rng.random() < 0.2:
            self.events.append(Event(day - rng.uniform(0, 3), "queued"))
        created = day if rng.random() < 0.5 else day - rng.uniform(0.5, 6)
        self.events.append(Event(created, "order_created", product))
        self.events.append(Event(day, "order_paid", product))
        if product == "retainer-annual":
            self.retained_until = day + DAYS
        elif product.startswith("booking-"):
            self.events.append(Event(day + rng.uniform(1, 5), "booking"))
            if product == "booking-on-site":
                self.events.append(Event(day + rng.uniform(2, 7), "visit"))
        elif product.startswith("doc-"):
            stars = LOW_RATING if rng.random() < 0.15 else rng.choice((4, 5, 5))
            rated_at = day + rng.uniform(3, 10)
            self.events.append(Event(rated_at, "rated", product, stars))
            if stars <= LOW_RATING and rng.random() < 0.5:
                self.pending.append((rated_at + rng.uniform(1, 10), "booking-at-firm"))

    def browse_or_abandon(self, day: float) -> None:
        """What does not end in a purchase: pages only browsed, price questions, abandoned orders."""
        rng = self.rng
        if rng.random() < 0.04:
            self.events.append(Event(day, "viewed", rng.choice(PRODUCTS)))
        if rng.random() < 0.006:
            self.events.append(Event(day, "chat_price"))
        if rng.random() < 0.003:
            self.events.append(Event(day, "queued"))
        if rng.random() < 0.0015:
            product = rng.choice(PRODUCTS)
            self.events.append(Event(day, "viewed", product))
            self.events.append(Event(day, "order_created", product))
            if rng.random() < 0.7:
                self.events.append(Event(day + rng.uniform(0.5, 3), "order_cancelled", product))


def _history(seed: int, index: int) -> History:
    rng = random.Random(seed * 1_000_003 + index)
    industry = rng.choice(INDUSTRIES)
    size = rng.choices(tuple(SIZE_SHARE), weights=tuple(SIZE_SHARE.values()))[0]
    needs = {f: INDUSTRY_FIELDS[industry].get(f, 0.2) * rng.uniform(0.5, 1.5) for f in FIELDS}
    per_day = SIZE_CONSULTATIONS_PER_MONTH[size] * rng.uniform(0.6, 1.4) / 30
    sim = _Simulation(rng)
    hot = ""
    for day in range(DAYS):
        if day % 91 == 0:  # each quarter one need runs hot
            hot = rng.choices(FIELDS, weights=[needs[f] for f in FIELDS])[0]
        now = day + rng.random()
        for when, product in [p for p in sim.pending if p[0] <= now]:
            sim.pending.remove((when, product))
            if not sim.bought_since(product, when - 30):
                sim.purchase(product, when)
        sim.browse_or_abandon(now)
        if rng.random() < per_day:
            weights = [needs[f] * (3 if f == hot else 1) for f in FIELDS]
            legal_field = rng.choices(FIELDS, weights=weights)[0]
            if now > sim.retained_until:  # a retained enterprise asks within its retainer
                if rng.random() < 0.3:
                    sim.purchase("consult-professional", now - 0.01)
                elif rng.random() < 0.1:
                    sim.purchase("consult-phone", now - 0.01)
            sim.events.append(Event(now, "consultation", legal_field))
            recurring = sim.consultations_since(now - 90, legal_field)
            if rng.random() < min(0.6, 0.08 + 0.16 * (recurring - 1)):
                sim.pending.append((now + rng.uniform(1, 10), rng.choice(FIELD_PRODUCTS[legal_field])))
        if (
            size != "small"
            and now > sim.retained_until
            and sim.consultations_since(now - 90) >= 5
            and rng.random() < 0.02
        ):
            sim.purchase("retainer-annual", now)
    events = sorted((e for e in sim.events if 0 <= e.at < DAYS), key=lambda e: (e.at, e.kind))
    return History(f"ent-{seed}-{index:05d}", industry, size, tuple(events))


def generate(count: int, seed: int) -> Iterator[History]:
    """`count` enterprise histories of a year each, the same for the same seed."""
    for index in range(count):
        yield _history(seed, index)
