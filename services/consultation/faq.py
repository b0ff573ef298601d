"""FAQ retrieval for the instant chat (R-CS-1, R-CON-1): a client's question is matched against approved
FAQ entries (catalog articles of kind `faq`: the title asks, the body answers) by TF-IDF cosine similarity
over the words the classifier reads (jieba words and Chinese character bigrams, services/legal_fields/classifier).

An answer is given only when the best entry's similarity reaches `MIN_SCORE`. The threshold was set on
the seeded FAQ with the questions of tests/unit/test_chat_rules.py: rephrased FAQ questions score 0.23–0.6,
legal questions that need a lawyer (not an FAQ) and greetings stay below 0.14."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from services.legal_fields.classifier import word_features

log = logging.getLogger(__name__)

MIN_SCORE = 0.2
# The body helps a little (it repeats the question's words); the title (the question) decides.
BODY_WEIGHT = 0.3
# How long fetched FAQ entries are used before they are fetched again (a newly approved entry is
# answered from within this time).
REFRESH_SECONDS = 60.0
RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class FaqEntry:
    article_id: str
    question: str
    answer: str


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float


def _tf(tokens: Sequence[str], weight: float = 1.0) -> dict[str, float]:
    counts: dict[str, float] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0.0) + weight
    return counts


class FaqIndex:
    """TF-IDF vectors of FAQ entries; `best` returns the most similar entry at or above `min_score`."""

    def __init__(self, entries: Sequence[FaqEntry], min_score: float = MIN_SCORE) -> None:
        self.entries = list(entries)
        self.min_score = min_score
        raw: list[dict[str, float]] = []
        for entry in self.entries:
            counts = _tf(word_features(entry.question))
            for token, weight in _tf(word_features(entry.answer), BODY_WEIGHT).items():
                counts[token] = counts.get(token, 0.0) + weight
            raw.append(counts)
        documents = len(raw)
        frequency: Counter[str] = Counter()
        for counts in raw:
            frequency.update(counts.keys())
        # Smoothed idf, as if the query were one more document: a word every entry has still counts a little.
        self.idf = {t: math.log((1 + documents) / (1 + n)) + 1.0 for t, n in frequency.items()}
        self.unknown_idf = math.log(1 + documents) + 1.0
        self.vectors = [self._normalised(counts) for counts in raw]

    def _normalised(self, counts: dict[str, float]) -> dict[str, float]:
        vector = {
            t: (1 + math.log(c) if c >= 1 else c) * self.idf.get(t, self.unknown_idf)
            for t, c in counts.items()
            if c > 0
        }
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {t: v / norm for t, v in vector.items()}

    def score_all(self, question: str) -> list[FaqMatch]:
        """Every entry with its cosine similarity to `question`, best first."""
        query = self._normalised(_tf(word_features(question)))
        scored = [
            FaqMatch(entry, sum(w * vector.get(t, 0.0) for t, w in query.items()))
            for entry, vector in zip(self.entries, self.vectors, strict=True)
        ]
        return sorted(scored, key=lambda m: -m.score)

    def best(self, question: str) -> FaqMatch | None:
        scored = self.score_all(question)
        if not scored or scored[0].score < self.min_score:
            return None
        return scored[0]


class FaqSource:
    """The index over the approved FAQ entries `fetch` returns, rebuilt when older than `refresh_seconds`.
    A failed fetch keeps the previous index (or none: then nothing matches and the agent queue answers)."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Sequence[FaqEntry]]],
        refresh_seconds: float = REFRESH_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.fetch = fetch
        self.refresh_seconds = refresh_seconds
        self.retry_seconds = retry_seconds
        self._index: FaqIndex | None = None
        self._built_at = -math.inf
        self._lock = asyncio.Lock()

    async def index(self) -> FaqIndex | None:
        async with self._lock:
            if time.monotonic() - self._built_at >= self.refresh_seconds:
                try:
                    entries = await self.fetch()
                    # Segmenting every entry is CPU work: off the event loop.
                    self._index = await asyncio.to_thread(FaqIndex, entries)
                    self._built_at = time.monotonic()
                except Exception:  # the chat still works without FAQ answers (they go to the queue)
                    log.warning("FAQ entries could not be fetched", exc_info=True)
                    # Try again soon, not only after a whole refresh period.
                    self._built_at = time.monotonic() - self.refresh_seconds + self.retry_seconds
            return self._index

    async def best(self, question: str) -> FaqMatch | None:
        index = await self.index()
        if index is None:
            return None
        return await asyncio.to_thread(index.best, question)
