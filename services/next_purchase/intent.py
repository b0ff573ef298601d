"""The purchase-intent score (R-CS-2): a logistic model over a client's last 30 days, learned from the
generated histories (will the client pay an order within the next 14 days?), and the weights that were
set by hand before, kept to be compared with on held-out histories (`counsel analytics report`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from services.next_purchase.evidence import IntentEvidence

FEATURES = ("views", "repeat", "unpaid", "paid", "chat", "queued")
# The weights chosen by hand from what the signals mean, before any history was learned from.
HAND_SET: dict[str, float] = {
    "bias": -2.5,
    "views": 0.6,
    "repeat": 0.8,
    "unpaid": 2.0,
    "paid": 0.7,
    "chat": 0.9,
    "queued": 0.4,
}
# How far ahead a purchase counts as the intent coming true.
HORIZON_DAYS = 7


def features(evidence: IntentEvidence) -> dict[str, float]:
    """The model's inputs: counts capped where more says little more, the rest present or not."""
    return {
        "views": float(min(evidence.views, 5)),
        "repeat": float(evidence.repeated),
        "unpaid": float(evidence.unpaid > 0),
        "paid": float(evidence.paid > 0),
        "chat": float(min(evidence.chat_hits, 3)),
        "queued": float(evidence.asked_for_agent),
    }


def contributions(evidence: IntentEvidence, weights: Mapping[str, float]) -> dict[str, float]:
    """Each feature's share of the score's log-odds (0 for an absent one)."""
    return {name: weights[name] * value for name, value in features(evidence).items()}


def probability(evidence: IntentEvidence, weights: Mapping[str, float]) -> float:
    z = weights["bias"] + sum(contributions(evidence, weights).values())
    return 1.0 / (1.0 + math.exp(-z))


def fit(
    samples: Sequence[tuple[IntentEvidence, bool]], l2: float = 1e-3, steps: int = 3000
) -> dict[str, float]:
    """Logistic regression by full-batch gradient descent. The features take few values, so identical
    samples are counted once with their weight: deterministic, and a few thousand steps take a second."""
    grouped: Counter[tuple[tuple[float, ...], bool]] = Counter(
        (tuple(features(evidence).values()), bought) for evidence, bought in samples
    )
    rows = list(grouped.items())
    total = sum(grouped.values())
    weights = [0.0] * (len(FEATURES) + 1)  # bias first
    rate = 0.5
    for _ in range(steps):
        gradient = [0.0] * len(weights)
        for (x, bought), n in rows:
            z = weights[0] + sum(w * v for w, v in zip(weights[1:], x, strict=True))
            error = (1.0 / (1.0 + math.exp(-z)) - bought) * n
            gradient[0] += error
            for i, v in enumerate(x, start=1):
                gradient[i] += error * v
        for i in range(len(weights)):
            penalty = l2 * weights[i] if i else 0.0
            weights[i] -= rate * (gradient[i] / total + penalty)
    return {"bias": round(weights[0], 4)} | {
        name: round(w, 4) for name, w in zip(FEATURES, weights[1:], strict=True)
    }
