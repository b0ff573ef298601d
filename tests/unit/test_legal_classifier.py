"""The legal-nature classifier (R-CON-2, §6.2.1.2): a real model trained on the repository's labelled
questions (hand-written, and generated as clients type them), evaluated on a held-out split it never saw,
with a calibrated confidence and a low-confidence fallback to an agent."""

from __future__ import annotations

import gzip
import json
from collections import Counter

from services.legal_fields import FALLBACK_FIELD, LEGAL_FIELDS
from services.legal_fields.classifier import (
    CHECK,
    DATASET,
    GENERATED,
    HANDWRITTEN_FLOOR,
    HELD_OUT,
    MIN_ACCURACY,
    MIN_RECALL,
    MODEL,
    dataset_digest,
    default_classifier,
    evaluate,
    generated_text,
    held_out_sets,
    load_dataset,
    model_artifact,
    report,
    split,
)


def test_the_labelled_set_is_large_varied_and_covers_every_field() -> None:
    examples = load_dataset()
    assert len(examples) >= 4000
    per_field = Counter(e.field for e in examples)
    assert set(per_field) == set(LEGAL_FIELDS)
    assert min(per_field.values()) >= 400
    assert len({e.text for e in examples}) == len(examples), "no repeated questions"
    english = sum(e.text.isascii() for e in examples)
    assert 0.1 * len(examples) < english < 0.3 * len(examples), "mostly Chinese, some English"


def test_the_split_is_deterministic_disjoint_and_decided_by_each_questions_text() -> None:
    examples = load_dataset()
    train, held_out = split(examples)
    again_train, again_held_out = split(load_dataset())
    assert (train, held_out) == (again_train, again_held_out)
    assert not {e.text for e in train} & {e.text for e in held_out}
    assert {e.field for e in held_out} == set(LEGAL_FIELDS)
    assert 0.15 < len(held_out) / (len(train) + len(held_out)) < 0.25
    # A hand-written question stays on its side whatever else is in the set (the generated questions grow).
    handwritten = load_dataset([DATASET])
    assert split(handwritten)[1] == [e for e in held_out if e in handwritten]


def test_the_generated_questions_are_the_generators_and_short_colloquial_and_mixed() -> None:
    """`counsel classifier train` after editing the lexicon or the generator; a stale file fails here."""
    assert GENERATED.read_text(encoding="utf-8") == generated_text(), "run: counsel classifier train"
    generated = load_dataset([GENERATED])
    handwritten = load_dataset([DATASET])
    assert not {e.text for e in generated} & {e.text for e in handwritten}
    chinese = [e.text for e in generated if not e.text.isascii()]
    assert sum(len(t) <= 15 for t in chinese) > 0.3 * len(chinese), "many are as short as clients type"
    assert sum("急" in t or "咋" in t or "啥" in t for t in chinese) > 100, "colloquial"
    assert sum(any(c.isascii() and c.isalpha() for c in t) for t in chinese) > 100, "mixed terms"
    assert sum(typo in t for t in chinese for typo in ("陪偿", "设保", "和同", "压金")) > 20, "typos"


def test_the_hand_written_exam_is_large_covers_every_field_and_is_never_trained_on() -> None:
    exam = load_dataset([HELD_OUT])
    assert len(exam) >= 400
    per_field = Counter(e.field for e in exam)
    assert set(per_field) == set(LEGAL_FIELDS)
    assert min(per_field.values()) >= 40
    assert len({e.text for e in exam}) == len(exam), "no repeated questions"
    assert not {e.text for e in exam} & {e.text for e in load_dataset()}, "no question is a training question"


def test_the_hand_written_check_is_large_covers_every_field_and_is_never_trained_on() -> None:
    """The check was written after the exam had been looked at: the model is measured on it, never tuned to it."""
    check = load_dataset([CHECK])
    assert len(check) >= 200
    per_field = Counter(e.field for e in check)
    assert set(per_field) == set(LEGAL_FIELDS)
    assert min(per_field.values()) >= 20
    assert len({e.text for e in check}) == len(check), "no repeated questions"
    assert not {e.text for e in check} & {e.text for e in load_dataset()}, (
        "no question is a training question"
    )
    assert not {e.text for e in check} & {e.text for e in load_dataset([HELD_OUT])}, (
        "no question is an exam question"
    )


def test_held_out_accuracy_and_every_fields_recall_reach_the_marks_on_both_sets() -> None:
    """The generated held-out questions share their wording with the training ones and reach the issue's
    marks; so do the hand-written ones (questions.tsv's held-out split, the exam held_out.tsv and the check
    check.tsv), written as clients write."""
    sets = held_out_sets()
    generated = evaluate(default_classifier(), sets.generated, sets.train_size)
    assert generated.accuracy >= MIN_ACCURACY, report()
    assert min(generated.recall.values()) >= MIN_RECALL, report()
    by_hand = evaluate(default_classifier(), sets.handwritten, sets.train_size)
    min_accuracy, min_recall = HANDWRITTEN_FLOOR
    assert by_hand.accuracy >= min_accuracy, report()
    assert min(by_hand.recall.values()) >= min_recall, report()
    # The confidence is calibrated: on average it claims what it achieves.
    for result in (generated, by_hand):
        assert abs(result.overconfidence) <= 0.05, report()


def test_the_shortest_common_questions_go_to_their_field_not_to_an_agent() -> None:
    """Issue 23: these went to `other` and manual classification; neither is in the labelled set."""
    texts = {e.text for e in load_dataset()}
    for question in ("试用期可以约定多久？", "公司不交社保怎么办"):
        assert question not in texts
        prediction = default_classifier().classify(question)
        assert (prediction.field, prediction.needs_manual) == ("labour", False)


def test_questions_it_has_never_seen_get_their_field() -> None:
    classifier = default_classifier()
    # The e2e journey's question (not in the labelled set).
    labour = classifier.classify(
        "公司已经拖欠我们部门三个月工资了，现在还要单方面辞退我，我能要求经济补偿金吗？"
    )
    assert (labour.field, labour.needs_manual) == ("labour", False)
    assert classifier.classify("我们的注册商标被一家网店仿冒使用，怎么起诉索赔？").field == "ip"
    assert classifier.classify("Our tenant stopped paying rent on the office lease.").field == "real_estate"


def test_low_confidence_goes_to_an_agent_as_other() -> None:
    classifier = default_classifier()
    for text in ("asdf qwer zxcv", "？？？"):
        prediction = classifier.classify(text)
        assert prediction.field == FALLBACK_FIELD
        assert prediction.needs_manual


def test_the_report_prints_accuracy_and_recall_per_field() -> None:
    text = report()
    assert "generated" in text and "hand-written" in text
    for field in LEGAL_FIELDS:
        assert field in text


def test_the_committed_model_is_what_training_on_the_current_questions_writes() -> None:
    """`counsel classifier train` after editing the questions or the lexicon; a stale artifact fails here,
    and so would training that is not deterministic."""
    assert MODEL.read_bytes() == model_artifact(), "run: counsel classifier train"
    assert json.loads(gzip.decompress(MODEL.read_bytes()))["dataset_sha256"] == dataset_digest()
    # Small enough to keep in the repository and load in well under a second.
    assert MODEL.stat().st_size < 2_000_000
