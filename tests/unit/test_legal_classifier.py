"""The legal-nature classifier (R-CON-2, §6.2.1.2): a real model trained on the repository's labelled
questions, evaluated on a held-out split it never saw, with a low-confidence fallback to an agent."""

from __future__ import annotations

from collections import Counter

from services.legal_fields import FALLBACK_FIELD, LEGAL_FIELDS
from services.legal_fields.classifier import (
    MODEL,
    LegalClassifier,
    SoftmaxRegression,
    dataset_digest,
    default_classifier,
    evaluate,
    load_dataset,
    report,
    split,
    train_default,
)


def test_the_labelled_set_is_large_varied_and_covers_every_field() -> None:
    examples = load_dataset()
    assert len(examples) >= 400
    per_field = Counter(e.field for e in examples)
    assert set(per_field) == set(LEGAL_FIELDS)
    assert min(per_field.values()) >= 40
    assert len({e.text for e in examples}) == len(examples), "no repeated questions"
    english = sum(e.text.isascii() for e in examples)
    assert 0.1 * len(examples) < english < 0.3 * len(examples), "mostly Chinese, some English"


def test_the_split_is_deterministic_stratified_and_disjoint() -> None:
    train, held_out = split(load_dataset())
    again_train, again_held_out = split(load_dataset())
    assert (train, held_out) == (again_train, again_held_out)
    assert not {e.text for e in train} & {e.text for e in held_out}
    assert {e.field for e in held_out} == set(LEGAL_FIELDS)
    assert 0.15 < len(held_out) / (len(train) + len(held_out)) < 0.25


def test_held_out_accuracy_is_at_least_85_percent() -> None:
    train, held_out = split(load_dataset())
    result = evaluate(default_classifier(), held_out, len(train))
    assert result.accuracy >= 0.85, report()
    # No field is neglected: every one is recognised more often than not.
    assert min(result.recall.values()) >= 0.6, report()


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
    assert "held-out accuracy:" in text
    for field in LEGAL_FIELDS:
        assert field in text


def test_the_committed_model_is_trained_from_the_current_questions_and_predicts_like_fresh_training() -> None:
    """`counsel classifier train` after editing questions.tsv; a stale artifact fails here."""
    import gzip
    import json

    artifact = json.loads(gzip.decompress(MODEL.read_bytes()))
    assert artifact["dataset_sha256"] == dataset_digest(), "run: counsel classifier train"
    committed = LegalClassifier(SoftmaxRegression.from_json(artifact))
    fresh = LegalClassifier(train_default())
    _, held_out = split(load_dataset())
    agree = sum(committed.classify(e.text).best_field == fresh.classify(e.text).best_field for e in held_out)
    assert agree / len(held_out) >= 0.97
