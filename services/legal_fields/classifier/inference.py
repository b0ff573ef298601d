"""Inference: the classifier the service asks, with its low-confidence fallback to an agent."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import lru_cache

from services.legal_fields import FALLBACK_FIELD, LEGAL_FIELDS
from services.legal_fields.classifier.model import SoftmaxRegression
from services.legal_fields.classifier.training import MODEL, dataset_digest, train_default

# Below this posterior the question goes to an agent to classify by hand (with nine fields a uniform guess
# is 0.11; at 0.35 about one question in ten goes to an agent).
MIN_CONFIDENCE = 0.35


@dataclass(frozen=True)
class Prediction:
    """`field` is what the service records; `best_field`/`confidence` are the model's own answer."""

    field: str
    confidence: float
    needs_manual: bool
    best_field: str


class LegalClassifier:
    def __init__(self, model: SoftmaxRegression, min_confidence: float = MIN_CONFIDENCE) -> None:
        self.model = model
        self.min_confidence = min_confidence

    def classify(self, question: str) -> Prediction:
        """The legal field of a question; low confidence (or nothing recognisable) → `other`, needs_manual."""
        posteriors = self.model.posteriors(question)
        # Ties break by the order of LEGAL_FIELDS, so the answer never depends on dict order.
        best = max(LEGAL_FIELDS, key=lambda f: posteriors[f])
        confidence = posteriors[best]
        if confidence < self.min_confidence or not self.model.recognises(question):
            return Prediction(FALLBACK_FIELD, confidence, True, best)
        return Prediction(best, confidence, False, best)


@lru_cache(maxsize=1)
def default_classifier() -> LegalClassifier:
    """The classifier the service uses: the committed artifact (`model.json.gz`, loads in well under a second)
    when it was trained from the current questions, else trained now from the training split."""
    if MODEL.exists():
        data = json.loads(gzip.decompress(MODEL.read_bytes()))
        if data.get("dataset_sha256") == dataset_digest():
            return LegalClassifier(SoftmaxRegression.from_json(data))
    return LegalClassifier(train_default())
