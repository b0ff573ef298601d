"""Legal-nature classifier for consultation questions and document requests (R-CON-2, §6.2.1.2).

A multinomial logistic regression over TF-IDF of jieba word segments, Chinese character bigrams
and the legal terms of each field's lexicon (`model`, `lexicon`), with a calibrated confidence,
trained deterministically on the labelled questions — hand-written in `questions.tsv`, generated as clients
type them in `generated.tsv` (`generator`), both kept in the repository —
the *training* split only, so the accuracy that `counsel classifier report` prints on the held-out split
(`evaluation`) is the accuracy of the model the service actually uses. The report prints it apart for the
hand-written held-out questions, which include `held_out.tsv` and `check.tsv`: an exam and a check training never reads. The trained weights are committed as
`model.json.gz` (`training`; regenerate with `counsel classifier train` after editing the questions; a test
fails when it is stale), because training takes seconds of CPU that a starting service should not spend.

A prediction whose posterior probability is below `MIN_CONFIDENCE` becomes `other` with
`needs_manual=True`: an agent classifies it by hand (`inference`). Nothing here logs question text.
"""

from services.legal_fields.classifier.evaluation import (
    CHECK,
    HANDWRITTEN_FLOOR,
    HELD_OUT,
    MIN_ACCURACY,
    MIN_RECALL,
    Evaluation,
    HeldOutSets,
    evaluate,
    held_out_sets,
    report,
)
from services.legal_fields.classifier.generator import generate
from services.legal_fields.classifier.inference import (
    MIN_CONFIDENCE,
    LegalClassifier,
    Prediction,
    default_classifier,
)
from services.legal_fields.classifier.model import (
    Example,
    SoftmaxRegression,
    features,
    word_features,
)
from services.legal_fields.classifier.training import (
    DATASET,
    GENERATED,
    MODEL,
    dataset_digest,
    generated_text,
    load_dataset,
    model_artifact,
    split,
    train_default,
    write_model,
)

__all__ = [
    "CHECK",
    "DATASET",
    "GENERATED",
    "HANDWRITTEN_FLOOR",
    "HELD_OUT",
    "MIN_ACCURACY",
    "MIN_CONFIDENCE",
    "MIN_RECALL",
    "MODEL",
    "Evaluation",
    "Example",
    "HeldOutSets",
    "LegalClassifier",
    "Prediction",
    "SoftmaxRegression",
    "dataset_digest",
    "default_classifier",
    "evaluate",
    "features",
    "generate",
    "generated_text",
    "held_out_sets",
    "load_dataset",
    "model_artifact",
    "report",
    "split",
    "train_default",
    "word_features",
    "write_model",
]
