"""Training both models on the training part of the generated histories, and the committed model
(`counsel analytics train` rewrites it; `model.json` is loaded by catalog and consultation)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

from services.next_purchase import intent, recommender
from services.next_purchase.evidence import IntentEvidence, intent_evidence, next_purchase_features
from services.next_purchase.histories import DAYS, PRODUCTS, History, generate

MODEL = Path(__file__).with_name("model.json")
SEED = 2026
ENTERPRISES = 1500
# Enterprises whose index ends in 7, 8 or 9 are held out: never trained on, only evaluated on.
HELD_OUT_DIGITS = (7, 8, 9)
# A purchase in a history's first month has too little before it to learn from.
WARM_UP_DAYS = 30
INTENT_SNAPSHOT_EVERY_DAYS = 7

NextPurchaseSample = tuple[dict[str, float], str]
IntentSample = tuple[IntentEvidence, bool]


def split(histories: list[History]) -> tuple[list[History], list[History]]:
    """(training, held-out) by enterprise: all of an enterprise's purchases are on one side."""
    held_out = [h for h in histories if int(h.enterprise_id[-1]) in HELD_OUT_DIGITS]
    return [h for h in histories if int(h.enterprise_id[-1]) not in HELD_OUT_DIGITS], held_out


@cache
def histories() -> tuple[list[History], list[History]]:
    """The generated histories, (training, held-out)."""
    return split(list(generate(ENTERPRISES, SEED)))


def next_purchase_samples(histories: list[History]) -> Iterator[NextPurchaseSample]:
    """Each purchase after the warm-up with the evidence before it."""
    for history in histories:
        for event in history.events:
            if event.kind == "order_paid" and event.at >= WARM_UP_DAYS:
                yield next_purchase_features(history.events, event.at), event.subject


def intent_samples(histories: list[History]) -> Iterator[IntentSample]:
    """A weekly look at each client: the last 30 days' evidence, and whether an order is paid within
    the horizon."""
    for history in histories:
        paid = [e.at for e in history.events if e.kind == "order_paid"]
        for now in range(WARM_UP_DAYS, DAYS - intent.HORIZON_DAYS, INTENT_SNAPSHOT_EVERY_DAYS):
            yield (
                intent_evidence(history.events, now),
                any(now < at <= now + intent.HORIZON_DAYS for at in paid),
            )


def train() -> dict[str, Any]:
    """Both models trained on the training histories, as `model.json` holds them."""
    training, _ = histories()
    return {
        "generated": {"seed": SEED, "enterprises": ENTERPRISES},
        "next_purchase": recommender.fit(list(next_purchase_samples(training)), PRODUCTS).to_json(),
        "intent": intent.fit(list(intent_samples(training))),
    }


def write_model() -> None:
    MODEL.write_text(json.dumps(train(), ensure_ascii=False, indent=1, sort_keys=True) + "\n")


@cache
def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MODEL.read_text())
    return data


def next_purchase_model() -> recommender.NextPurchaseModel:
    """The committed next-purchase model."""
    return recommender.NextPurchaseModel.from_json(committed()["next_purchase"])


def intent_weights() -> dict[str, float]:
    """The committed purchase-intent weights (`bias` and one per `intent.FEATURES`)."""
    return dict(committed()["intent"])
