"""Shared shapes and the one place proto values become JSON values (times, money, pages)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any

from google.protobuf.message import Message
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from counsel.common.v1 import money_pb2, paging_pb2
from services.runtime import limits, vocabulary

# A request integer bound for an int32 proto field or an `integer` column (a count, a version number, an
# amount in fen) declares these bounds (or narrower ones), so the OpenAPI document shows them. Anything
# wider stops at int64 (`services.gateway.validation`).
INT32_MIN, INT32_MAX = limits.INT32_MIN, limits.INT32_MAX


@dataclass(frozen=True)
class OneOf:
    """`Annotated[str, OneOf(Enum)]`: one of the words of a `counsel.common.v1` enum (services/runtime/
    vocabulary.py), `leaving_out` some, validated and shown in the OpenAPI document exactly as a `Literal` of
    those words would be."""

    enum: vocabulary.SharedEnum
    leaving_out: Collection[str] = ()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.literal_schema(
            [w for w in vocabulary.words(self.enum) if w not in self.leaving_out]
        )


# The shared words as the API takes them (API.md fixes each set; the proto enum defines it).
LegalField = Annotated[str, OneOf(vocabulary.LegalField)]
Category = Annotated[str, OneOf(vocabulary.ProductCategory)]
ConsultationKind = Annotated[str, OneOf(vocabulary.ConsultationKind)]
# What a consultation product sells: a paid kind (a general consultation is free).
ProductConsultationKind = Annotated[str, OneOf(vocabulary.ConsultationKind, leaving_out=("general",))]
Complexity = Annotated[str, OneOf(vocabulary.DocumentComplexity)]
BookingMode = Annotated[str, OneOf(vocabulary.BookingMode)]
ArticleKind = Annotated[str, OneOf(vocabulary.ArticleKind)]
RequirementFieldType = Annotated[str, OneOf(vocabulary.RequirementFieldType)]
Industry = Annotated[str, OneOf(vocabulary.Industry)]


def rfc3339(message: Message, field: str) -> str | None:
    """`message.<field>` (a google.protobuf.Timestamp) as RFC 3339 UTC with `Z`, or None when unset."""
    if not message.HasField(field):
        return None
    stamp = getattr(message, field)
    return str(stamp.ToJsonString())


def or_none(value: str) -> str | None:
    """Proto3 strings are never absent; the API says null where the proto leaves a string empty."""
    return value or None


def next_cursor(page: paging_pb2.PageResponse) -> str | None:
    return page.next_cursor or None


class RequestModel(BaseModel):
    """Request bodies refuse unknown fields, so a misspelt field is a 422 naming it, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


def _is_none(value: object) -> bool:
    return value is None


def optional(description: str = "") -> Any:
    """A response member left out, not null, when unset (e.g. a product tier's deadlines)."""
    return Field(default=None, exclude_if=_is_none, description=description or None)


class Money(BaseModel):
    amount: int = Field(description="Integer number of fen (the currency's minor unit).")
    currency: str = Field(description="ISO 4217 code, e.g. CNY.")

    @classmethod
    def from_proto(cls, money: money_pb2.Money) -> Money:
        return cls(amount=money.amount, currency=money.currency)


def money(message: Message, field: str) -> Money | None:
    """`message.<field>` (a counsel.common.v1.Money) as `{amount, currency}`, or None when unset."""
    if not message.HasField(field):
        return None
    return Money.from_proto(getattr(message, field))


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, served as application/problem+json."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class Status(BaseModel):
    status: str
