"""Next-purchase analysis (§5.5, R-Q-2) and the learned purchase intent (R-CS-2): generated enterprise
histories, models trained on one part and evaluated on held-out enterprises, at the marks of issue 23."""

from __future__ import annotations

from collections import Counter

import pytest

from services.next_purchase import histories, intent
from services.next_purchase.evaluation import MIN_HIT_RATE_RATIO, MIN_INTENT_AUC, evaluate, report
from services.next_purchase.evidence import IntentEvidence, next_purchase_features
from services.next_purchase.histories import Event, generate
from services.next_purchase.training import committed, next_purchase_model, train
from services.next_purchase.training import histories as split_histories

pytestmark = pytest.mark.unit

NAMES = {"doc-labour-compliance": "劳动合规审查", "doc-contract-review": "合同审查"}


def test_the_histories_are_seeded_and_have_patterns_by_industry_and_size() -> None:
    assert list(generate(20, seed=5)) == list(generate(20, seed=5))
    assert list(generate(20, seed=5)) != list(generate(20, seed=6))
    training, held_out = split_histories()
    assert not {h.enterprise_id for h in training} & {h.enterprise_id for h in held_out}
    everyone = training + held_out
    fields: dict[str, Counter[str]] = {i: Counter() for i in histories.INDUSTRIES}
    for history in everyone:
        fields[history.industry].update(e.subject for e in history.events if e.kind == "consultation")
    assert fields["manufacturing"].most_common(1)[0][0] == "labour"
    assert fields["technology"].most_common(1)[0][0] == "ip"
    asked = {size: [0, 0] for size in histories.SIZE_SHARE}
    for history in everyone:
        asked[history.size][0] += sum(e.kind == "consultation" for e in history.events)
        asked[history.size][1] += 1
    per_enterprise = {size: total / count for size, (total, count) in asked.items()}
    assert per_enterprise["small"] < per_enterprise["medium"] < per_enterprise["large"]


def test_the_models_beat_the_marks_on_held_out_enterprises() -> None:
    evaluation = evaluate()
    assert evaluation.purchases > 1000 and evaluation.looks > 1000
    assert evaluation.ratio >= MIN_HIT_RATE_RATIO, evaluation
    assert evaluation.learned_auc >= MIN_INTENT_AUC, evaluation
    assert evaluation.learned_auc >= evaluation.hand_set_auc, evaluation
    printed = report()
    assert "hit-rate@3" in printed and "most popular" in printed and "hand-set" in printed


def test_the_committed_model_is_what_training_gives() -> None:
    """`counsel analytics train` after changing the generator or a model; a stale model.json fails here."""
    assert train() == committed(), "run: counsel analytics train"


def test_three_labour_consultations_this_quarter_suggest_the_labour_compliance_review() -> None:
    events = [Event(day, "consultation", "labour") for day in (10.0, 40.0, 70.0)]
    features = next_purchase_features(events, now=80.0)
    assert features == {"consultations:labour": 3.0}
    best = next_purchase_model().recommend(features, NAMES, limit=3)
    assert best[0].product_id == "doc-labour-compliance"
    assert best[0].reasons[0] == "本季度三次劳动咨询 → 劳动合规审查"
    assert len(best) == 3 and best[0].score > best[1].score >= best[2].score
    on_sale = next_purchase_model().recommend(features, NAMES, among={"doc-contract-review"})
    assert [r.product_id for r in on_sale] == ["doc-contract-review"]


def test_old_evidence_does_not_count() -> None:
    events = [Event(1.0, "consultation", "labour"), Event(2.0, "viewed", "doc-contract-review")]
    assert next_purchase_features(events, now=200.0) == {}


def test_the_learned_intent_weights_read_an_unpaid_order_as_the_strongest_sign() -> None:
    weights = committed()["intent"]
    assert set(weights) == {"bias", *intent.FEATURES}
    assert max(intent.FEATURES, key=lambda name: weights[name]) == "unpaid"
    nothing = IntentEvidence(0, False, 0, 0, 0, False)
    stalled = IntentEvidence(2, True, 1, 0, 1, False)
    assert intent.probability(nothing, weights) < 0.4 < 0.7 <= intent.probability(stalled, weights)
