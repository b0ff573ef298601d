"""Answers to a requirement form, checked against the form's fields (name, type, required, choices).

The catalog owns each product's form (`requirement_fields`); the payment service checks a client's answers
when the order is placed (before any payment) and the documents service when it takes the order on. Both
use this one check, so an answer accepted at order time is never refused after payment. No domain
knowledge beyond the field types the catalog defines (text, textarea, date, number, choice, list)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from services.runtime.errors import InvalidArgument

MAX_FIELDS = 50
MAX_VALUE = 10_000
MAX_NAME = 100


@dataclass(frozen=True)
class RequirementSpec:
    """One field of a product's requirement form (the catalog owns the definition)."""

    name: str
    type: str  # text | textarea | date | number | choice | list
    required: bool
    choices: tuple[str, ...] = ()


def answer_text(value: Any) -> str:
    """An answer (a JSON value) as text, the way the documents service keeps it: a list becomes one line
    per item, a number its decimal form, true/false lower case, null empty."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(
            item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in value
        )
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def validate_bounds(answers: Mapping[str, Any]) -> None:
    """At most 50 answers, names of 1 to 100 characters, values of at most 10,000 characters."""
    if len(answers) > MAX_FIELDS:
        raise InvalidArgument.for_field("requirements", f"at most {MAX_FIELDS} fields")
    for name, value in answers.items():
        if not name or len(name) > MAX_NAME:
            raise InvalidArgument.for_field("requirements", f"field names are 1 to {MAX_NAME} characters")
        if len(answer_text(value)) > MAX_VALUE:
            raise InvalidArgument.for_field(f"requirements.{name}", f"at most {MAX_VALUE} characters")


def _check_type(spec: RequirementSpec, value: Any, field: str) -> None:
    """A JSON answer of the field's type: strings everywhere; a number may also be a JSON number, a list a
    JSON array of strings or numbers."""
    if isinstance(value, str) or value is None:
        return
    if spec.type == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InvalidArgument.for_field(field, "must be a number")
        return
    if spec.type == "list" and isinstance(value, list):
        if all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in value):
            return
        raise InvalidArgument.for_field(field, "must be a list of texts")
    expected = {"number": "a number", "list": "a list of texts"}.get(spec.type, "a text")
    raise InvalidArgument.for_field(field, f"must be {expected}")


def validate_requirements_against(
    specs: Iterable[RequirementSpec], answers: Mapping[str, Any]
) -> dict[str, str]:
    """The client's answers checked against the product's form: required fields present, no unknown
    fields, each answer of its field's type, dates, numbers and choices well-formed. Returns the answers as
    trimmed text (empty optional answers left out). InvalidArgument names `requirements.<field>`."""
    validate_bounds(answers)
    known = {spec.name: spec for spec in specs}
    for name in answers:
        if name not in known:
            raise InvalidArgument.for_field(f"requirements.{name}", "is not a field of this product")
    cleaned: dict[str, str] = {}
    for spec in known.values():
        field = f"requirements.{spec.name}"
        raw = answers.get(spec.name)
        _check_type(spec, raw, field)
        value = answer_text(raw).strip()
        if not value:
            if spec.required:
                raise InvalidArgument.for_field(field, "is required")
            continue
        if spec.type == "choice" and spec.choices and value not in spec.choices:
            raise InvalidArgument.for_field(field, f"must be one of {', '.join(spec.choices)}")
        if spec.type == "number":
            try:
                number = float(value)
            except ValueError:
                raise InvalidArgument.for_field(field, "must be a number") from None
            if not math.isfinite(number):
                raise InvalidArgument.for_field(field, "must be a number")
        if spec.type == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidArgument.for_field(field, "must be a date like 2026-12-31") from None
        cleaned[spec.name] = value
    return cleaned
