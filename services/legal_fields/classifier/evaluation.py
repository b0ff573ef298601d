"""The held-out evaluation of the classifier (`counsel classifier report`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from services.legal_fields import LEGAL_FIELDS
from services.legal_fields.classifier.inference import MIN_CONFIDENCE, LegalClassifier, default_classifier
from services.legal_fields.classifier.model import Example
from services.legal_fields.classifier.training import load_dataset, split


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    recall: dict[str, float]
    support: dict[str, int]
    manual: int
    train_size: int
    held_out_size: int


def evaluate(classifier: LegalClassifier, held_out: Sequence[Example], train_size: int) -> Evaluation:
    """Accuracy and per-field recall of the model's best field (before the low-confidence fallback),
    plus how many held-out questions would go to an agent."""
    correct: Counter[str] = Counter()
    support: Counter[str] = Counter()
    manual = 0
    for example in held_out:
        prediction = classifier.classify(example.text)
        support[example.field] += 1
        correct[example.field] += prediction.best_field == example.field
        manual += prediction.needs_manual
    return Evaluation(
        accuracy=sum(correct.values()) / len(held_out),
        recall={f: correct[f] / support[f] for f in LEGAL_FIELDS if support[f]},
        support=dict(support),
        manual=manual,
        train_size=train_size,
        held_out_size=len(held_out),
    )


def report() -> str:
    """The held-out evaluation as text, for `counsel classifier report`."""
    train, held_out = split(load_dataset())
    result = evaluate(default_classifier(), held_out, len(train))
    lines = [
        "legal-nature classifier: logistic regression over TF-IDF of jieba segments + character bigrams",
        f"training questions: {result.train_size}   held-out questions: {result.held_out_size}",
        f"held-out accuracy: {result.accuracy:.1%}",
        f"sent to an agent (confidence < {MIN_CONFIDENCE:.0%}): {result.manual}",
        "per-field recall:",
    ]
    lines += [
        f"  {field:<12} {result.recall[field]:6.1%}  ({result.support[field]} questions)"
        for field in LEGAL_FIELDS
        if field in result.recall
    ]
    return "\n".join(lines)
