"""The model that training and inference share: the features it reads from a question (jieba word
segments, Chinese character bigrams, and the legal terms of each field's lexicon it contains)
and the multinomial logistic regression over their TF-IDF, with a temperature that calibrates its
confidence."""

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
from services.legal_fields.classifier.lexicon import LEXICON

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


def segment(text: str) -> list[str]:
    """jieba's words of the text (the dictionary loads on the first call, about a second)."""
    import jieba  # imported on first use: loading the dictionary takes about a second

    jieba.setLogLevel(logging.WARNING)
    return jieba.lcut(text)


def _stem(word: str) -> str:
    """A crude English plural/verb stem ("employees" → "employee", "leases" → "lease"); Chinese as is."""
    if word.isascii() and len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


_TERMS = tuple((field, term.lower()) for field, words in LEXICON.items() for term in words.terms)
_ASCII_WORD = re.compile(r"[0-9a-z+]+")


def word_features(text: str) -> list[str]:
    """Word segments (jieba; lower-cased English words) plus character bigrams of Chinese runs: what any
    matching of Chinese questions reads (the FAQ retrieval too)."""
    text = text.lower()
    tokens = [
        _stem(w)
        for w in (t.strip() for t in segment(text))
        if _WORD.fullmatch(w) and w not in _STOP and not (len(w) == 1 and not w.isdigit())
    ]
    for run in _CJK.findall(text):
        tokens.extend(f"#{run[i : i + 2]}" for i in range(len(run) - 1))
    return tokens


def features(text: str) -> list[str]:
    """The classifier's features: `word_features` (their character bigrams survive typos and words jieba
    does not know) and `@<field>` once per legal term of that field's lexicon the text contains. Character
    trigrams were dropped: cross-validated on the hand-written training questions they made the model
    learn the generator's phrasing (92.2 % → 94.3 % without them)."""
    tokens = word_features(text)
    text = text.lower()
    # An English term counts as a whole word only ("ip" is not in "ship", "vat" not in "private").
    ascii_words = set(_ASCII_WORD.findall(text))
    tokens.extend(
        f"@{field}" for field, term in _TERMS if (term in ascii_words if term.isascii() else term in text)
    )
    return tokens


class SoftmaxRegression:
    """Multinomial logistic regression over L2-normalised TF-IDF vectors, trained by plain SGD with a
    fixed shuffle seed: the same questions always give the same model. Pure Python: a few thousand
    questions train in seconds, so no numerical library is needed.

    `temperature` divides the scores before the softmax: fitted on questions the weights were not trained
    on (`calibrate`), it makes the confidence mean what it says (of the questions answered with 0.8, about
    eight in ten are right), which the low-confidence fallback to an agent relies on."""

    # Below this a field's gradient moves nothing worth its weight update (most of them, once the model
    # is confident): skipping it makes an epoch several times faster and changes no prediction.
    MIN_GRADIENT = 1e-3

    def __init__(self, epochs: int = 12, learning_rate: float = 1.0, l2: float = 1e-4, seed: int = 7) -> None:
        # Chosen by cross-validation on the training split (never on the held-out split).
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.l2 = l2
        self.seed = seed
        self.idf: dict[str, float] = {}
        self.weights: dict[str, dict[str, float]] = {}
        self.bias: dict[str, float] = {}
        self.temperature = 1.0

    def _vector(self, tokens: Iterable[str]) -> dict[str, float]:
        counts = Counter(t for t in tokens if t in self.idf)
        vector = {t: (1 + math.log(n)) * self.idf[t] for t, n in counts.items()}
        norm = math.sqrt(sum(x * x for x in vector.values())) or 1.0
        return {t: x / norm for t, x in vector.items()}

    def _scores(self, vector: dict[str, float]) -> dict[str, float]:
        return {
            f: self.bias[f] + sum(self.weights[f].get(t, 0.0) * x for t, x in vector.items())
            for f in LEGAL_FIELDS
        }

    @staticmethod
    def _softmax(scores: dict[str, float], temperature: float = 1.0) -> dict[str, float]:
        top = max(scores.values())
        exp = {f: math.exp((s - top) / temperature) for f, s in scores.items()}
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
        self.temperature = 1.0
        data = [(self._vector(tokens), field) for tokens, field in tokenised]
        rng = random.Random(self.seed)
        for _ in range(self.epochs):
            rng.shuffle(data)
            for vector, field in data:
                probabilities = self._softmax(self._scores(vector))
                for f in LEGAL_FIELDS:
                    gradient = probabilities[f] - (1.0 if f == field else 0.0)
                    if abs(gradient) < self.MIN_GRADIENT:
                        continue
                    self.bias[f] -= self.learning_rate * gradient
                    weights = self.weights[f]
                    for t, x in vector.items():
                        weights[t] -= self.learning_rate * (gradient * x + self.l2 * weights[t])
        return self

    def calibrate(self, examples: Sequence[Example]) -> SoftmaxRegression:
        """Set the temperature that minimises the log loss on `examples` (questions the weights were not
        trained on), searched over a fixed grid so the result is deterministic."""
        scored = [(self._scores(self._vector(features(e.text))), e.field) for e in examples]

        def log_loss(temperature: float) -> float:
            return -sum(math.log(max(self._softmax(s, temperature)[f], 1e-12)) for s, f in scored)

        self.temperature = min((0.25 + 0.05 * i for i in range(76)), key=log_loss)
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
            "temperature": round(self.temperature, 2),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SoftmaxRegression:
        model = cls()
        model.idf = dict(data["idf"])
        model.bias = dict(data["bias"])
        model.weights = {f: dict(w) for f, w in data["weights"].items()}
        model.temperature = float(data["temperature"])
        return model

    def recognises(self, text: str) -> bool:
        """Whether the text has any segment the model saw in training."""
        return any(t in self.idf for t in features(text))

    def posteriors(self, text: str) -> dict[str, float]:
        """Calibrated probability of each legal field for the text."""
        return self._softmax(self._scores(self._vector(features(text))), self.temperature)
