"""Quality supervision and assessment rules (R-Q-4, R-Q-5, §9.4): the sampling rate and its reasons, the
deterministic sample draw, scoring on submit, question validation, the assignment filter by passed fields,
and the seeded question bank (at least ten valid questions per field, in Chinese)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from services.catalog import quality
from services.catalog.seed_questions import demo_questions
from services.legal_fields import LEGAL_FIELDS
from services.rules.assignment import assignable_fields
from services.runtime.errors import Conflict, InvalidArgument

pytestmark = pytest.mark.unit


def violation(error: InvalidArgument) -> str:
    return error.violations[0].field


def test_a_new_lawyer_is_sampled_at_half_until_twenty_items() -> None:
    assert quality.sampling_rate(0, 0).rate == 0.5
    assert quality.sampling_rate(19, 0).rate == 0.5
    assert "new lawyer (19 of 20 items)" in quality.sampling_rate(19, 0).reason
    assert quality.sampling_rate(20, 0).rate == 0.1


def test_after_a_low_rating_or_failed_check_every_item_is_sampled() -> None:
    assert quality.sampling_rate(100, 1).rate == 1.0
    assert quality.sampling_rate(3, 5).rate == 1.0  # watched beats new
    assert "low rating or failed check" in quality.sampling_rate(100, 1).reason


def test_the_draw_is_stable_per_event_and_close_to_the_rate() -> None:
    ids = [f"event-{n}" for n in range(20_000)]
    for rate in (0.1, 0.5):
        share = sum(quality.is_sampled(i, rate) for i in ids) / len(ids)
        assert abs(share - rate) < 0.015
    assert [quality.is_sampled(i, 0.5) for i in ids[:50]] == [quality.is_sampled(i, 0.5) for i in ids[:50]]
    assert all(quality.is_sampled(i, 1.0) for i in ids[:100])
    assert not any(quality.is_sampled(i, 0.0) for i in ids[:100])


def test_low_ratings_are_one_and_two_stars() -> None:
    assert [quality.is_low_rating(r) for r in range(0, 6)] == [False, True, True, False, False, False]


def test_scoring_takes_eighty_percent_to_pass() -> None:
    assert quality.score_assessment([1, 2, 3, 0, 1], [1, 2, 3, 0, 0]) == quality.AssessmentScore(80, True)
    assert quality.score_assessment([1, 2, 0, 0, 0], [1, 2, 3, 1, 1]) == quality.AssessmentScore(40, False)
    assert quality.score_assessment([0, 0, 0, 0, 0], [0, 0, 0, 0, 0]) == quality.AssessmentScore(100, True)


def test_one_answer_per_question_or_the_answers_are_named() -> None:
    with pytest.raises(InvalidArgument) as raised:
        quality.score_assessment([1, 2], [1, 2, 3])
    assert violation(raised.value) == "answers"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("tort", 1, "题干", ["甲", "乙"], 0, ""), "field"),
        (("labour", 6, "题干", ["甲", "乙"], 0, ""), "difficulty"),
        (("labour", 1, "  ", ["甲", "乙"], 0, ""), "stem"),
        (("labour", 1, "题干", ["甲"], 0, ""), "choices"),
        (("labour", 1, "题干", ["甲", "甲"], 0, ""), "choices"),
        (("labour", 1, "题干", ["甲", "乙"], 2, ""), "answer"),
    ],
)
def test_a_wrong_question_names_its_field(arguments: tuple, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InvalidArgument) as raised:
        quality.validate_question(*arguments)
    assert violation(raised.value) == field


def test_a_sample_is_scored_once() -> None:
    quality.check_scorable("pending")
    with pytest.raises(Conflict):
        quality.check_scorable("failed")
    with pytest.raises(InvalidArgument) as raised:
        quality.validate_score(0, "")
    assert violation(raised.value) == "score"


def test_an_assessment_takes_one_submission_in_time() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    due = now + quality.ASSESSMENT_TIME_LIMIT
    quality.check_submittable("open", due, now)
    with pytest.raises(Conflict, match="time ran out"):
        quality.check_submittable("open", due, due + timedelta(seconds=1))
    with pytest.raises(Conflict, match="submitted already"):
        quality.check_submittable("passed", due, now)
    assert quality.assessment_status("open", due, due + timedelta(seconds=1)) == "expired"
    assert quality.assessment_status("open", due, now) == "open"
    assert quality.assessment_status("failed", due, due + timedelta(days=1)) == "failed"


def test_a_lawyer_is_assignable_only_in_the_fields_passed() -> None:
    assert assignable_fields(["labour", "company", "tax"], ["tax", "labour", "ip"]) == ["labour", "tax"]
    assert assignable_fields(["labour"], []) == []


def test_the_seeded_bank_has_ten_valid_chinese_questions_per_field() -> None:
    questions = demo_questions()
    per_field = Counter(q.field for q in questions)
    assert set(per_field) == set(LEGAL_FIELDS)
    assert min(per_field.values()) >= 10
    assert len({q.id for q in questions}) == len(questions)
    assert len({q.stem for q in questions}) == len(questions)
    for q in questions:
        quality.validate_question(q.field, q.difficulty, q.stem, q.choices, q.answer, q.explanation)
        assert re.search(r"[\u4e00-\u9fff]", q.stem), q.stem
    assert min(per_field.values()) >= quality.QUESTIONS_PER_ASSESSMENT
