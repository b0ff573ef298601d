"""The shared words (protos/counsel/common/v1/vocabulary.proto) as the wire carries them, and the gateway's
schemas accepting exactly an enum's words for a field."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from services.gateway.schemas.booking import CreateBooking
from services.gateway.schemas.catalog import ProductInput, RequirementFieldInput, TierInput
from services.gateway.schemas.consultations import CreateConsultation, Reclassify
from services.gateway.schemas.content import CreateArticle
from services.gateway.schemas.documents import CreateDocumentOrder
from services.runtime import vocabulary
from services.runtime.vocabulary import (
    ArticleKind,
    BookingMode,
    ConsultationKind,
    DocumentComplexity,
    LegalField,
    ProductCategory,
    RequirementFieldType,
    SharedEnum,
)

pytestmark = pytest.mark.unit


def test_a_word_is_the_value_name_without_the_enum_prefix_in_lower_case() -> None:
    assert vocabulary.words(LegalField) == (
        "contract", "labour", "company", "ip", "tax", "litigation", "real_estate", "finance", "other"
    )  # fmt: skip
    assert vocabulary.words(RequirementFieldType) == ("text", "textarea", "date", "number", "choice", "list")
    assert vocabulary.word(LegalField, LegalField.LEGAL_FIELD_REAL_ESTATE) == "real_estate"
    assert vocabulary.number(BookingMode, "on_site") == BookingMode.BOOKING_MODE_ON_SITE
    assert vocabulary.word(LegalField, LegalField.LEGAL_FIELD_UNSPECIFIED) == ""
    assert vocabulary.number(LegalField, "") == LegalField.LEGAL_FIELD_UNSPECIFIED
    with pytest.raises(ValueError, match="not one of contract"):
        vocabulary.number(LegalField, "Contract")
    with pytest.raises(ValueError):
        vocabulary.word(LegalField, 99)


@pytest.mark.parametrize(
    ("model", "field", "enum", "leaving_out"),
    [
        (Reclassify, "legal_field", LegalField, ()),
        (ProductInput, "category", ProductCategory, ()),
        (CreateConsultation, "kind", ConsultationKind, ()),
        (ProductInput, "consultation_kind", ConsultationKind, ("general",)),  # a product sells a paid kind
        (CreateDocumentOrder, "complexity", DocumentComplexity, ()),
        (TierInput, "complexity", DocumentComplexity, ()),
        (CreateBooking, "mode", BookingMode, ()),
        (CreateArticle, "kind", ArticleKind, ()),
        (RequirementFieldInput, "type", RequirementFieldType, ()),
    ],
)
def test_a_gateway_schema_accepts_exactly_the_enums_words(
    model: type[BaseModel], field: str, enum: SharedEnum, leaving_out: tuple[str, ...]
) -> None:
    info = model.model_fields[field]
    annotation: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    accepted = [w for w in vocabulary.words(enum) if w not in leaving_out]
    for word in accepted:
        assert adapter.validate_python(word) == word
    for refused in (*leaving_out, "unknown", accepted[0].upper(), ""):
        with pytest.raises(ValidationError):
            adapter.validate_python(refused)
