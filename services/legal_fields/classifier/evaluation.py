"""The held-out evaluation of the classifier (`counsel classifier report`), on two sets: the generated
questions of the held-out split, and the hand-written ones — the held-out split's from `questions.tsv`
and every question of the exam (`held_out.tsv`) and of the check (`check.tsv`), written apart from the
lexicon and never read by training. The generated questions share their wording with the training
questions, so the first set flatters the model; clients write like the second. The report prints the
exam and the check apart too: the check was written after the exam had been looked at, so a model tuned
to the exam would show it there."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.legal_fields import LEGAL_FIELD_LABELS, LEGAL_FIELDS
from services.legal_fields.classifier.inference import MIN_CONFIDENCE, LegalClassifier, default_classifier
from services.legal_fields.classifier.model import Example
from services.legal_fields.classifier.training import DATASET, load_dataset, split

# The exam: hand-written questions as SME owners and HR staff type them, kept out of training.
HELD_OUT = Path(__file__).with_name("held_out.tsv")
# The check: more of them, written later by someone else, kept out of training too.
CHECK = Path(__file__).with_name("check.tsv")
# The marks the classifier must reach on both held-out sets (issue 23); a unit test fails below them. The
# hand-written set reaches them with little to spare (HANDWRITTEN_FLOOR: lower it only with a reason).
MIN_ACCURACY = 0.95
MIN_RECALL = 0.90
HANDWRITTEN_FLOOR = (MIN_ACCURACY, MIN_RECALL)


@dataclass(frozen=True)
class Evaluation:
    accuracy: float
    recall: dict[str, float]
    support: dict[str, int]
    manual: int
    train_size: int
    held_out_size: int
    # Mean confidence minus accuracy: near 0 when the confidence is calibrated.
    overconfidence: float


@dataclass(frozen=True)
class HeldOutSets:
    train_size: int
    generated: list[Example]
    # The split's hand-written questions, the exam and the check.
    handwritten: list[Example]
    exam: list[Example]
    check: list[Example]


def held_out_sets() -> HeldOutSets:
    """The held-out split's generated questions, and the hand-written held-out questions (the split's
    hand-written ones, the exam and the check)."""
    train, held_out = split(load_dataset())
    handwritten = {e.text for e in load_dataset([DATASET])}
    exam = load_dataset([HELD_OUT])
    check = load_dataset([CHECK])
    return HeldOutSets(
        train_size=len(train),
        generated=[e for e in held_out if e.text not in handwritten],
        handwritten=[e for e in held_out if e.text in handwritten] + exam + check,
        exam=exam,
        check=check,
    )


def evaluate(classifier: LegalClassifier, held_out: Sequence[Example], train_size: int) -> Evaluation:
    """Accuracy and per-field recall of the model's best field (before the low-confidence fallback),
    plus how many held-out questions would go to an agent."""
    correct: Counter[str] = Counter()
    support: Counter[str] = Counter()
    manual = 0
    confidence = 0.0
    for example in held_out:
        prediction = classifier.classify(example.text)
        support[example.field] += 1
        correct[example.field] += prediction.best_field == example.field
        manual += prediction.needs_manual
        confidence += prediction.confidence
    accuracy = sum(correct.values()) / len(held_out)
    return Evaluation(
        accuracy=accuracy,
        recall={f: correct[f] / support[f] for f in LEGAL_FIELDS if support[f]},
        support=dict(support),
        manual=manual,
        train_size=train_size,
        held_out_size=len(held_out),
        overconfidence=confidence / len(held_out) - accuracy,
    )


def _verdict(result: Evaluation) -> str:
    return (
        "met" if result.accuracy >= MIN_ACCURACY and min(result.recall.values()) >= MIN_RECALL else "NOT met"
    )


def report() -> str:
    """The held-out evaluations side by side, for `counsel classifier report`: generated, all hand-written,
    and of those the exam and the check alone."""
    sets = held_out_sets()
    classifier = default_classifier()
    generated = evaluate(classifier, sets.generated, sets.train_size)
    by_hand = evaluate(classifier, sets.handwritten, sets.train_size)
    exam = evaluate(classifier, sets.exam, sets.train_size)
    check = evaluate(classifier, sets.check, sets.train_size)
    results = (generated, by_hand, exam, check)

    def row(name: str, values: Sequence[str]) -> str:
        # A Chinese character takes two columns.
        width = sum(2 if "\u4e00" <= c <= "\u9fff" else 1 for c in name)
        return f"  {name}{' ' * (21 - width)} " + " ".join(f"{v:>13}" for v in values)

    lines = [
        "legal-nature classifier: logistic regression over TF-IDF of jieba segments, character bigrams and",
        "the per-field legal-term lexicon, confidence calibrated by temperature",
        f"training questions: {sets.train_size}   held out: {generated.held_out_size} generated, "
        f"{by_hand.held_out_size} hand-written (questions.tsv's held-out split, the exam held_out.tsv "
        f"{exam.held_out_size}, the check check.tsv {check.held_out_size})",
        f"marks: accuracy ≥ {MIN_ACCURACY:.0%}, recall ≥ {MIN_RECALL:.0%} in every field — "
        f"generated: {_verdict(generated)}, hand-written: {_verdict(by_hand)}",
        "",
        row("", ("generated", "hand-written", "exam", "check")),
        row("accuracy", [f"{r.accuracy:.1%}" for r in results]),
        row("confidence − accuracy", [f"{r.overconfidence:+.1%}" for r in results]),
        row(f"to an agent (< {MIN_CONFIDENCE:.0%})", [str(r.manual) for r in results]),
        "  recall:",
    ]
    lines += [
        row(f"{field:<12} {LEGAL_FIELD_LABELS[field][0]}", [f"{r.recall[field]:.1%}" for r in results])
        + "   ("
        + " / ".join(str(r.support[field]) for r in results)
        + " questions)"
        for field in LEGAL_FIELDS
    ]
    return "\n".join(lines)
