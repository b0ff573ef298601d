"""Training: the labelled questions in `questions.tsv`, their deterministic split into a training and a
held-out part, and the committed model artifact `model.json.gz` (`counsel classifier train`)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from services.legal_fields import LEGAL_FIELDS
from services.legal_fields.classifier.model import Example, SoftmaxRegression

# One question in five (per field, by a hash of its text) is held out for evaluation.
HOLDOUT_EVERY = 5
DATASET = Path(__file__).with_name("questions.tsv")
MODEL = Path(__file__).with_name("model.json.gz")


def load_dataset(path: Path = DATASET) -> list[Example]:
    """The labelled questions; raises ValueError on an unknown field or a malformed line."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        field, sep, text = line.partition("\t")
        if not sep or field not in LEGAL_FIELDS or not text.strip():
            raise ValueError(f"{path.name}:{number}: expected '<field>\\t<question>'")
        examples.append(Example(field, text.strip()))
    return examples


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """Deterministic stratified split: (train, held_out), about one in `HOLDOUT_EVERY` held out per field."""
    by_field: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_field[example.field].append(example)
    train: list[Example] = []
    held_out: list[Example] = []
    for field in sorted(by_field):
        ordered = sorted(by_field[field], key=lambda e: hashlib.sha256(e.text.encode()).hexdigest())
        for i, example in enumerate(ordered):
            (held_out if i % HOLDOUT_EVERY == 0 else train).append(example)
    return train, held_out


def dataset_digest(path: Path = DATASET) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_default() -> SoftmaxRegression:
    """Train on the training split of the repository's questions (deterministic; a few seconds)."""
    train, _ = split(load_dataset())
    return SoftmaxRegression().fit(train)


def write_model(path: Path = MODEL) -> None:
    """Write the committed model artifact (`counsel classifier train`), tagged with the dataset's digest."""
    data = {"dataset_sha256": dataset_digest(), **train_default().to_json()}
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    # mtime=0: the same model always gives the same bytes.
    path.write_bytes(gzip.compress(text.encode(), mtime=0))
