"""Legal-nature classifier for consultation questions (R-CON-2, §6.2.1.2).

A multinomial logistic regression over TF-IDF of jieba word segments and Chinese character bigrams, trained
deterministically on the labelled questions in `questions.tsv` (kept in the repository) — the *training*
split only, so the accuracy that `counsel classifier report` prints on the held-out split is the accuracy
of the model the service actually uses. The trained weights are committed as `model.json.gz` (regenerate with
`counsel classifier train` after editing the questions; a test fails when it is stale), because training
takes seconds of CPU that a starting service should not spend.

A prediction whose posterior probability is below `MIN_CONFIDENCE` becomes `other` with
`needs_manual=True`: an agent classifies it by hand. Nothing here logs question text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

# The legal fields, the same set as lawyers' `fields[]` (API.md "Consultation").
LEGAL_FIELDS = (
    "contract",
    "labour",
    "company",
    "ip",
    "tax",
    "litigation",
    "real_estate",
    "finance",
    "other",
)
FALLBACK_FIELD = "other"
# Below this posterior the question goes to an agent to classify by hand (with nine fields a uniform guess
# is 0.11; at 0.35 about one question in ten goes to an agent).
MIN_CONFIDENCE = 0.35
# One question in five (per field, by a hash of its text) is held out for evaluation.
HOLDOUT_EVERY = 5
DATASET = Path(__file__).with_name("questions.tsv")
MODEL = Path(__file__).with_name("model.json.gz")

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


@dataclass(frozen=True)
class Prediction:
    """`field` is what the service records; `best_field`/`confidence` are the model's own answer."""

    field: str
    confidence: float
    needs_manual: bool
    best_field: str


def load_dataset(path: Path = DATASET) -> list[Example]:
    """The labelled questions; raises ValueError on an unknown field or a malformed line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        field, sep, text = line.partition("\t")
        if not sep or field not in LEGAL_FIELDS or not text.strip():
            raise ValueError(f"{path.name}:{number}: expected '<field>\\t<question>'")
        examples.append(Example(field, text.strip()))
    return examples


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """Deterministic stratified split: (train, held_out), about one in `HOLDOUT_EVERY` held out per field."""
    by_field: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_field[example.field].append(example)
    train: list[Example] = []
    held_out: list[Example] = []
    for field in sorted(by_field):
        ordered = sorted(by_field[field], key=lambda e: hashlib.sha256(e.text.encode()).hexdigest())
        for i, example in enumerate(ordered):
            (held_out if i % HOLDOUT_EVERY == 0 else train).append(example)
    return train, held_out


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


def dataset_digest(path: Path = DATASET) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_default() -> SoftmaxRegression:
    """Train on the training split of the repository's questions (deterministic; a few seconds)."""
    train, _ = split(load_dataset())
    return SoftmaxRegression().fit(train)


def write_model(path: Path = MODEL) -> None:
    """Write the committed model artifact (`counsel classifier train`), tagged with the dataset's digest."""
    data = {"dataset_sha256": dataset_digest(), **train_default().to_json()}
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    # mtime=0: the same model always gives the same bytes.
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


@lru_cache(maxsize=1)
def default_classifier() -> LegalClassifier:
    """The classifier the service uses: the committed artifact (`model.json.gz`, loads in well under a second)
    when it was trained from the current questions, else trained now from the training split."""
    if MODEL.exists():
        data = json.loads(gzip.decompress(MODEL.read_bytes()))
        if data.get("dataset_sha256") == dataset_digest():
            return LegalClassifier(SoftmaxRegression.from_json(data))
    return LegalClassifier(train_default())


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
