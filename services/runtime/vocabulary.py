"""The shared words of `counsel.common.v1` (protos/counsel/common/v1/vocabulary.proto) as the strings the wire
carries: a value's name without its enum's prefix, in lower case (`LEGAL_FIELD_REAL_ESTATE` ↔ `real_estate`),
the form API.md fixes and the services' string fields hold. Every list of allowed values comes from here."""

from __future__ import annotations

from functools import cache
from typing import Protocol

from google.protobuf.descriptor import EnumDescriptor

from counsel.common.v1 import vocabulary_pb2

LegalField = vocabulary_pb2.LegalField
ProductCategory = vocabulary_pb2.ProductCategory
ConsultationKind = vocabulary_pb2.ConsultationKind
DocumentComplexity = vocabulary_pb2.DocumentComplexity
BookingMode = vocabulary_pb2.BookingMode
ArticleKind = vocabulary_pb2.ArticleKind
RequirementFieldType = vocabulary_pb2.RequirementFieldType
ColumnKind = vocabulary_pb2.ColumnKind
Industry = vocabulary_pb2.Industry


class SharedEnum(Protocol):
    """One of the enums above (what the generated enum classes have in common)."""

    DESCRIPTOR: EnumDescriptor


@cache
def _word_numbers(descriptor: EnumDescriptor) -> dict[str, int]:
    # Each value carries its enum's name in UPPER_SNAKE_CASE (buf's ENUM_VALUE_PREFIX): LegalField → LEGAL_FIELD_.
    prefix = "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(descriptor.name)).upper() + "_"
    return {
        value.name.removeprefix(prefix).lower(): value.number for value in descriptor.values if value.number
    }


def words(enum: SharedEnum) -> tuple[str, ...]:
    """Every word of `enum` in the proto's order, UNSPECIFIED left out: words(LegalField) == ("contract", …)."""
    return tuple(_word_numbers(enum.DESCRIPTOR))


def word(enum: SharedEnum, number: int) -> str:
    """The word of one of `enum`'s values; "" for UNSPECIFIED. ValueError for a number it does not have."""
    if number == 0:
        return ""
    for text, known in _word_numbers(enum.DESCRIPTOR).items():
        if known == number:
            return text
    raise ValueError(f"{enum.DESCRIPTOR.full_name} has no value {number}")


def number(enum: SharedEnum, text: str) -> int:
    """The value of one of `enum`'s words; 0 (UNSPECIFIED) for "". ValueError for a word it does not have."""
    if not text:
        return 0
    try:
        return _word_numbers(enum.DESCRIPTOR)[text]
    except KeyError:
        raise ValueError(f"{text!r} is not one of {', '.join(words(enum))}") from None
