"""Quality supervision and assessment rules (R-Q-4, R-Q-5, §9.3, §9.4), free of I/O.

Sampling: every completed output of a lawyer (a consultation's first reply, a delivered document version, a
completed meeting) is sampled for a supervisor's review at a rate that depends on the lawyer's record:
- WATCHED_RATE (100 %) for the next WATCH_ITEMS items after a low rating or a failed check;
- NEW_LAWYER_RATE (50 %) while the lawyer has fewer than NEW_LAWYER_ITEMS completed items;
- BASE_RATE (10 %) otherwise.
Whether an item is sampled is decided by its event id (a stable hash), so a redelivered event decides the
same way and a test can predict it.

Risk controls flag a lawyer's work: an on-site meeting that ended without a check-in, LOW_RATING_RUN low
ratings (at most LOW_RATING stars) in a row, a reply past due for the PAST_DUE_RUN-th time."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.legal_fields import LEGAL_FIELDS
from services.runtime.errors import Conflict, InvalidArgument

SAMPLE_KINDS = ("consultation_reply", "document_version", "meeting", "visit")
SAMPLE_STATUSES = ("pending", "passed", "failed")

BASE_RATE = 0.10
NEW_LAWYER_RATE = 0.50
WATCHED_RATE = 1.0
NEW_LAWYER_ITEMS = 20
WATCH_ITEMS = 5

LOW_RATING = 2
LOW_RATING_RUN = 2
PAST_DUE_RUN = 2

# Assessments (§9.4): a random draw of this many questions of the field, answered within the time limit;
# passing takes at least PASS_PERCENT right.
QUESTIONS_PER_ASSESSMENT = 5
ASSESSMENT_TIME_LIMIT = timedelta(minutes=30)
PASS_PERCENT = 80
MAX_CHOICES = 8
MAX_FINDINGS = 4000
MAX_STEM = 2000


@dataclass(frozen=True)
class SamplingRate:
    rate: float
    reason: str


def sampling_rate(completed_items: int, watched_items: int) -> SamplingRate:
    """The rate at which the lawyer's next completed item is sampled, with the reason supervisors read."""
    if watched_items > 0:
        return SamplingRate(WATCHED_RATE, f"after a low rating or failed check: {WATCHED_RATE:.0%}")
    if completed_items < NEW_LAWYER_ITEMS:
        return SamplingRate(
            NEW_LAWYER_RATE,
            f"new lawyer ({completed_items} of {NEW_LAWYER_ITEMS} items): {NEW_LAWYER_RATE:.0%}",
        )
    return SamplingRate(BASE_RATE, f"routine: {BASE_RATE:.0%}")


def is_sampled(event_id: str, rate: float) -> bool:
    """Whether the item of `event_id` falls in the sample at `rate` (0..1): the event id's hash, read as a
    number in [0, 1), is below the rate."""
    draw = int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:8], "big") / 2**64
    return draw < rate


def is_low_rating(rating: int) -> bool:
    return 1 <= rating <= LOW_RATING


def validate_sample_filter(kind: str, status: str) -> None:
    if kind and kind not in SAMPLE_KINDS:
        raise InvalidArgument.for_field("kind", f"must be one of {', '.join(SAMPLE_KINDS)}")
    if status and status not in SAMPLE_STATUSES:
        raise InvalidArgument.for_field("status", f"must be one of {', '.join(SAMPLE_STATUSES)}")


def validate_score(score: int, findings: str) -> str:
    """The findings, trimmed; InvalidArgument naming `score` outside 1..5 or `findings` when too long."""
    if not 1 <= score <= 5:
        raise InvalidArgument.for_field("score", "must be 1 to 5")
    if len(findings) > MAX_FINDINGS:
        raise InvalidArgument.for_field("findings", f"must be at most {MAX_FINDINGS} characters")
    return findings.strip()


def check_scorable(status: str) -> None:
    """A sample is scored once."""
    if status != "pending":
        raise Conflict(f"the sample was scored already ({status})")


def validate_field(field: str) -> str:
    if field not in LEGAL_FIELDS:
        raise InvalidArgument.for_field("field", f"must be one of {', '.join(LEGAL_FIELDS)}")
    return field


@dataclass(frozen=True)
class NewQuestion:
    field: str
    difficulty: int
    stem: str
    choices: tuple[str, ...]
    answer: int
    explanation: str


def validate_question(
    field: str, difficulty: int, stem: str, choices: Sequence[str], answer: int, explanation: str
) -> NewQuestion:
    """A question for the bank; InvalidArgument naming the first field that is wrong."""
    validate_field(field)
    if not 1 <= difficulty <= 5:
        raise InvalidArgument.for_field("difficulty", "must be 1 to 5")
    if not stem.strip() or len(stem) > MAX_STEM:
        raise InvalidArgument.for_field("stem", f"must be 1 to {MAX_STEM} characters")
    cleaned = tuple(c.strip() for c in choices)
    if not 2 <= len(cleaned) <= MAX_CHOICES or not all(cleaned) or len(set(cleaned)) != len(cleaned):
        raise InvalidArgument.for_field("choices", f"must be 2 to {MAX_CHOICES} different, non-empty choices")
    if not 0 <= answer < len(cleaned):
        raise InvalidArgument.for_field("answer", "must be the index of one of the choices")
    if len(explanation) > MAX_STEM:
        raise InvalidArgument.for_field("explanation", f"must be at most {MAX_STEM} characters")
    return NewQuestion(field, difficulty, stem.strip(), cleaned, answer, explanation.strip())


def check_submittable(status: str, due_at: datetime, now: datetime) -> None:
    """An assessment takes one submission, before its due time; Conflict otherwise."""
    if status != "open":
        raise Conflict(f"the assessment was submitted already ({status})")
    if now > due_at:
        raise Conflict("the assessment's time ran out")


def assessment_status(status: str, due_at: datetime, now: datetime) -> str:
    """What an assessment's result shows: open, passed or failed as stored, or expired when still open after
    its due time (a late submission is refused, so it is never scored)."""
    return "expired" if status == "open" and now > due_at else status


@dataclass(frozen=True)
class AssessmentScore:
    percent: int
    passed: bool


def score_assessment(answers: Sequence[int], correct: Sequence[int]) -> AssessmentScore:
    """The share of right answers, in whole percent, and whether it passes; InvalidArgument naming
    `answers` unless there is exactly one answer per question."""
    if len(answers) != len(correct):
        raise InvalidArgument.for_field(
            "answers", f"must hold one answer for each of the {len(correct)} questions"
        )
    right = sum(1 for given, expected in zip(answers, correct, strict=True) if given == expected)
    percent = round(100 * right / len(correct)) if correct else 0
    return AssessmentScore(percent, percent >= PASS_PERCENT)
