"""The model that training and inference share: the features it reads
from a question (jieba word segments plus Chinese character bigrams) and the multinomial logistic
regression over their TF-IDF."""

from __future__ import annotations

import logging
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.legal_fields import LEGAL_FIELDS

_CJK = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[0-9a-z\u4e00-\u9fff]+")
# Function words that carry no legal meaning; segments of one Chinese character are dropped anyway.
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "to",
        "and",
        "or",
        "in",
        "on",
        "for",
        "is",
        "are",
        "be",
        "we",
        "our",
        "us",
        "it",
        "its",
        "can",
        "do",
        "does",
        "how",
        "what",
        "which",
        "who",
        "with",
        "under",
        "from",
        "by",
        "as",
        "at",
        "if",
        "has",
        "have",
        "was",
        "were",
        "will",
        "would",
        "should",
        "this",
        "that",
        "there",
        "their",
        "they",
        "any",
        "when",
    ]
)


@dataclass(frozen=True)
class Example:
    field: str
    text: str


def _segment(text: str) -> list[str]:
    import jieba  # imported on first use: loading the dictionary takes about a second

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut(text)


def _stem(word: str) -> str:
    """A crude English plural/verb stem ("employees" → "employee", "leases" → "lease"); Chinese as is."""
    if word.isascii() and len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def features(text: str) -> list[str]:
    """Word segments (jieba; lower-cased English words) plus character bigrams of Chinese runs."""
    text = text.lower()
    tokens = [
        _stem(w)
        for w in (t.strip() for t in _segment(text))
        if _WORD.fullmatch(w) and w not in _STOP and not (len(w) == 1 and not w.isdigit())
    ]
    for run in _CJK.findall(text):
        tokens.extend(f"#{run[i : i + 2]}" for i in range(len(run) - 1))
    return tokens


class SoftmaxRegression:
    """Multinomial logistic regression over L2-normalised TF-IDF vectors, trained by plain SGD with a
    fixed shuffle seed: the same questions always give the same model. Pure Python: a few hundred
    questions train in a couple of seconds, so no numerical library is needed."""

    def __init__(self, epochs: int = 30, learning_rate: float = 1.0, l2: float = 1e-4, seed: int = 7) -> None:
        # Chosen by 5-fold cross-validation on the training split (never on the held-out split).
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.l2 = l2
        self.seed = seed
        self.idf: dict[str, float] = {}
        self.weights: dict[str, dict[str, float]] = {}
        self.bias: dict[str, float] = {}

    def _vector(self, tokens: Iterable[str]) -> dict[str, float]:
        counts = Counter(t for t in tokens if t in self.idf)
        vector = {t: (1 + math.log(n)) * self.idf[t] for t, n in counts.items()}
        norm = math.sqrt(sum(x * x for x in vector.values())) or 1.0
        return {t: x / norm for t, x in vector.items()}

    def _probabilities(self, vector: dict[str, float]) -> dict[str, float]:
        scores = {
            f: self.bias[f] + sum(self.weights[f].get(t, 0.0) * x for t, x in vector.items())
            for f in LEGAL_FIELDS
        }
        top = max(scores.values())
        exp = {f: math.exp(s - top) for f, s in scores.items()}
        total = sum(exp.values())
        return {f: e / total for f, e in exp.items()}

    def fit(self, examples: Sequence[Example]) -> SoftmaxRegression:
        tokenised = [(features(e.text), e.field) for e in examples]
        document_frequency: Counter[str] = Counter()
        for tokens, _ in tokenised:
            document_frequency.update(set(tokens))
        n = len(tokenised)
        self.idf = {t: math.log((1 + n) / (1 + df)) + 1 for t, df in document_frequency.items()}
        self.weights = {f: defaultdict(float) for f in LEGAL_FIELDS}
        self.bias = {f: 0.0 for f in LEGAL_FIELDS}
        data = [(self._vector(tokens), field) for tokens, field in tokenised]
        rng = random.Random(self.seed)
        for _ in range(self.epochs):
            rng.shuffle(data)
            for vector, field in data:
                probabilities = self._probabilities(vector)
                for f in LEGAL_FIELDS:
                    gradient = probabilities[f] - (1.0 if f == field else 0.0)
                    self.bias[f] -= self.learning_rate * gradient
                    weights = self.weights[f]
                    for t, x in vector.items():
                        weights[t] -= self.learning_rate * (gradient * x + self.l2 * weights[t])
        return self

    def to_json(self) -> dict[str, object]:
        return {
            # Rounded and pruned to keep the artifact small; a test checks it predicts like fresh training.
            "idf": {t: round(v, 3) for t, v in sorted(self.idf.items())},
            "bias": {f: round(v, 4) for f, v in self.bias.items()},
            "weights": {
                f: {t: round(v, 3) for t, v in sorted(w.items()) if abs(v) >= 0.005}
                for f, w in self.weights.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SoftmaxRegression:
        model = cls()
        model.idf = dict(data["idf"])
        model.bias = dict(data["bias"])
        model.weights = {f: dict(w) for f, w in data["weights"].items()}
        return model

    def recognises(self, text: str) -> bool:
        """Whether the text has any segment the model saw in training."""
        return any(t in self.idf for t in features(text))

    def posteriors(self, text: str) -> dict[str, float]:
        """Probability of each legal field for the text."""
        return self._probabilities(self._vector(features(text)))
