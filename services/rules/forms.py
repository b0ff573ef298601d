"""Answers to a requirement form, checked against the form's fields (name, type, required, choices).

The catalog owns each product's form (`requirement_fields`); the payment service checks a client's answers
when the order is placed (before any payment) and the documents service when it takes the order on. Both
use this one check, so an answer accepted at order time is never refused after payment. No domain
knowledge beyond the field types the catalog defines (text, textarea, date, number, choice, list), except
the forms of the document services the standard lists (§5.2.3, R-DOC-1) at the end: the catalog's demo
products carry them, and they are written in the same field types."""

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


# --- the standard's document services (§5.2.3): their requirement forms, in Chinese ----------------------


def form_field(
    name: str, label: str, field_type: str, *, required: bool = True, choices: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One field of a requirement form, as the catalog stores it (`ProductRow.requirement_fields`)."""
    return {"name": name, "label": label, "type": field_type, "required": required, "choices": list(choices)}


# 诉讼文书: the paper the client files or answers with, the court, the parties, and what is claimed and why.
LITIGATION_PAPERS_FORM = [
    form_field(
        "paper_type",
        "文书类型",
        "choice",
        choices=("起诉状", "答辩状", "上诉状", "反诉状", "再审申请书", "代理词"),
    ),
    form_field("court", "受理法院", "text", required=False),
    form_field("case_number", "案号（已立案时填写）", "text", required=False),
    form_field("parties", "当事人（原告、被告、第三人）", "list"),
    form_field("claims", "诉讼请求或答辩意见", "textarea"),
    form_field("facts", "事实与理由", "textarea"),
    form_field("evidence", "现有证据", "list", required=False),
    form_field("filing_deadline", "提交期限（如答辩期、上诉期届满日）", "date", required=False),
]

# 申请书: applications to a court, an arbitration body or an authority.
APPLICATION_FORM = [
    form_field(
        "application_type",
        "申请书类型",
        "choice",
        choices=(
            "财产保全申请书",
            "证据保全申请书",
            "强制执行申请书",
            "仲裁申请书",
            "劳动仲裁申请书",
            "行政复议申请书",
            "其他申请书",
        ),
    ),
    form_field("authority", "受理机关（法院、仲裁委员会或行政机关）", "text"),
    form_field("applicant", "申请人", "text"),
    form_field("respondents", "被申请人", "list", required=False),
    form_field("request", "申请事项", "textarea"),
    form_field("facts", "事实与理由", "textarea"),
    form_field("amount", "涉及金额（元）", "number", required=False),
    form_field("submit_by", "计划提交日期", "date", required=False),
]

# 法律意见书: a formal opinion on a matter, for the client or a named third party (a bank, an investor).
LEGAL_OPINION_FORM = [
    form_field(
        "purpose",
        "用途",
        "choice",
        choices=("投融资", "并购重组", "上市挂牌", "合规审查", "争议评估", "招投标", "其他"),
    ),
    form_field("matter", "需出具意见的事项", "textarea"),
    form_field("questions", "需要回答的法律问题", "list"),
    form_field("materials", "已提供的材料", "list", required=False),
    form_field("addressee", "意见书致送对象", "text", required=False),
    form_field("needed_by", "需要日期", "date", required=False),
]

# 授权委托书: who authorises whom, for which matter, with which powers and for how long.
POWER_OF_ATTORNEY_FORM = [
    form_field("grantor", "委托人（单位名称或姓名）", "text"),
    form_field("agents", "受托人（姓名及身份证号或执业证号）", "list"),
    form_field("matter", "委托事项", "textarea"),
    form_field("authority", "代理权限", "choice", choices=("一般授权", "特别授权")),
    form_field(
        "special_powers", "特别授权事项（如代为承认、放弃、变更诉讼请求，和解，上诉）", "list", required=False
    ),
    form_field("valid_until", "委托期限至", "date", required=False),
]
