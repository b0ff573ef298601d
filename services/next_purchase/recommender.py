"""The next-purchase model: a multinomial logistic regression from what an enterprise did
(`evidence.next_purchase_features`) to the product it buys next, learned from histories. Its weights are
what a reason is made of: the evidence that adds most to a product's score is why it is suggested
("本季度三次劳动咨询 → 劳动合规审查")."""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.next_purchase.evidence import describe

# At most this many suggestions (API.md), each with at most this many reasons.
MAX_RECOMMENDATIONS = 5
MAX_REASONS = 2
# Shown when no evidence speaks for a product: it is suggested for being bought by enterprises like this.
POPULAR_REASON = "同类企业常购"


@dataclass(frozen=True)
class Recommendation:
    product_id: str
    score: float  # the model's probability that this is the next purchase
    reasons: list[str]


@dataclass(frozen=True)
class NextPurchaseModel:
    products: tuple[str, ...]
    bias: dict[str, float]
    # feature → product → weight (a feature with no weight for a product adds nothing to it)
    weights: dict[str, dict[str, float]]

    def scores(self, features: Mapping[str, float]) -> dict[str, float]:
        """The probability of each product being bought next."""
        logits = {p: self.bias[p] for p in self.products}
        for name, value in features.items():
            for product, weight in self.weights.get(name, {}).items():
                logits[product] += weight * value
        top = max(logits.values())
        exp = {p: math.exp(z - top) for p, z in logits.items()}
        total = sum(exp.values())
        return {p: e / total for p, e in exp.items()}

    def lift(self, features: Mapping[str, float], product: str) -> float:
        """How many times likelier the evidence makes `product` than it is for an enterprise with none."""
        return self.scores(features)[product] / self.scores({})[product]

    def ranked(self, features: Mapping[str, float], among: Collection[str] | None = None) -> list[str]:
        """Products best first (ties by id), only `among` when given."""
        scores = self.scores(features)
        return sorted((p for p in scores if among is None or p in among), key=lambda p: (-scores[p], p))

    def recommend(
        self,
        features: Mapping[str, float],
        names: Mapping[str, str],
        among: Collection[str] | None = None,
        limit: int = MAX_RECOMMENDATIONS,
    ) -> list[Recommendation]:
        """The next products, best first, each with its reasons in Chinese: `<evidence> → <product name>`
        for the evidence that raises it most. `names` are the products' Chinese names; `among` limits the
        suggestions to products on sale."""
        scores = self.scores(features)
        suggestions = []
        for product in self.ranked(features, among)[:limit]:
            raising = sorted(
                (
                    (self.weights.get(name, {}).get(product, 0.0) * value, name, value)
                    for name, value in features.items()
                ),
                key=lambda c: (-c[0], c[1]),
            )
            name = names.get(product, product)
            reasons = [
                f"{describe(feature, value, names)} → {name}"
                for weight, feature, value in raising[:MAX_REASONS]
                if weight > 0
            ]
            suggestions.append(
                Recommendation(product, round(scores[product], 4), reasons or [f"{POPULAR_REASON} → {name}"])
            )
        return suggestions

    def to_json(self) -> dict[str, Any]:
        return {"products": list(self.products), "bias": self.bias, "weights": self.weights}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> NextPurchaseModel:
        return cls(
            tuple(data["products"]), dict(data["bias"]), {k: dict(v) for k, v in data["weights"].items()}
        )


def fit(
    samples: Sequence[tuple[Mapping[str, float], str]],
    products: Sequence[str],
    epochs: int = 8,
    learning_rate: float = 0.05,
    l2: float = 1e-4,
    seed: int = 11,
) -> NextPurchaseModel:
    """Softmax regression by plain SGD over (features, product bought) samples, in an order shuffled with
    a fixed seed: the same samples always give the same model. Weights below 1e-3 are dropped."""
    bias = dict.fromkeys(products, 0.0)
    weights: dict[str, dict[str, float]] = {}
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    for _ in range(epochs):
        for index in order:
            features, bought = samples[index]
            logits = dict(bias)
            for name, value in features.items():
                for product, weight in weights.get(name, {}).items():
                    logits[product] += weight * value
            top = max(logits.values())
            exp = {p: math.exp(z - top) for p, z in logits.items()}
            total = sum(exp.values())
            for product in products:
                error = exp[product] / total - (product == bought)
                bias[product] -= learning_rate * error
                for name, value in features.items():
                    row = weights.setdefault(name, {})
                    current = row.get(product, 0.0)
                    row[product] = current - learning_rate * (error * value + l2 * current)
    return NextPurchaseModel(
        tuple(products),
        {p: round(b, 4) for p, b in bias.items()},
        {
            name: {p: round(w, 4) for p, w in sorted(row.items()) if abs(w) >= 1e-3}
            for name, row in sorted(weights.items())
        },
    )
