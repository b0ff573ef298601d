"""Chinese + English full-text search (R-INFO-1, R-INFO-2): jieba segments text into words at write time;
PostgreSQL indexes them as a `simple` tsvector (title words weighted above body words). A query is
segmented the same way and becomes a tsquery in which every query word must match, either whole or as
all of its finer parts (so 劳动合同 finds a text segmented as 劳动 / 合同 / 合同纠纷)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

_WORD = re.compile(r"\w+")
_lock = threading.Lock()
_jieba: Any = None
MAX_QUERY_WORDS = 12


def _segmenter() -> Any:
    """jieba, with its dictionary loaded on first use (about a second), never at import time."""
    global _jieba
    with _lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def _words(tokens: Iterable[str]) -> list[str]:
    """Lower-cased word tokens (letters, digits, CJK), punctuation and spaces dropped, order kept."""
    seen: dict[str, None] = {}
    for token in tokens:
        for word in _WORD.findall(token.lower()):
            seen.setdefault(word, None)
    return list(seen)


def segment(*texts: str) -> str:
    """Space-separated search words of `texts`, fine-grained (cut_for_search) so parts and wholes match."""
    jieba = _segmenter()
    words: list[str] = []
    for text in texts:
        words.extend(_words(jieba.cut_for_search(text)))
    return " ".join(dict.fromkeys(words))


def tsquery(query: str) -> str:
    """A to_tsquery('simple', …) expression for `query`, "" when it has no words. Only \\w tokens reach
    it, each quoted, so user input can never inject tsquery operators."""
    jieba = _segmenter()
    clauses: list[str] = []
    for word in _words(jieba.cut(query))[:MAX_QUERY_WORDS]:
        parts = [p for p in _words(jieba.cut_for_search(word)) if p != word]
        whole = f"'{word}'"
        if len(parts) > 1:
            fine = " & ".join(f"'{part}'" for part in parts)
            clauses.append(f"({whole} | ({fine}))")
        else:
            clauses.append(whole)
    return " & ".join(clauses)
