"""11. Classifying a question: the legal-nature classifier consultation and documents call on every
question and requirement, measured in this process on the held-out questions, beside jieba's segmentation
of the same text alone (the part of the work no classifier over words can skip)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bench.harness import Context, Figure, ms
from bench.loadgen import percentile
from services.legal_fields.classifier import default_classifier, load_dataset, split
from services.legal_fields.classifier.model import segment


def _latencies(call: Callable[[str], object], texts: list[str], rounds: int) -> list[float]:
    seconds = []
    for _ in range(rounds):
        for text in texts:
            start = time.perf_counter()
            call(text)
            seconds.append(time.perf_counter() - start)
    return seconds


def measure(rounds: int) -> list[Figure]:
    start = time.perf_counter()
    classifier = default_classifier()
    classifier.classify("预热")  # jieba's dictionary loads on the first question
    load = time.perf_counter() - start
    _, held_out = split(load_dataset())
    texts = [e.text for e in held_out]
    classify = _latencies(classifier.classify, texts, rounds)
    baseline = _latencies(segment, texts, rounds)
    return [
        Figure(
            "classifier",
            f"p{q} per question",
            ms(percentile(classify, q)),
            "ms",
            ms(percentile(baseline, q)),
            "jieba segmentation alone",
            "≤ 10 ms",
            note=f"{len(classify)} classifications of {len(texts)} held-out questions",
        )
        for q in (50, 99)
    ] + [
        Figure(
            "classifier", "load (artifact + jieba)", load, "s", note="once per process, off the event loop"
        )
    ]


async def bench_classifier_latency(ctx: Context) -> None:
    ctx.add(*await asyncio.to_thread(measure, int(ctx.scale(1, 5))))
