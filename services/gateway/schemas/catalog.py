"""Products as the public API shows them."""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf import json_format
from pydantic import BaseModel, Field

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.gateway.schemas.common import Money, money, optional, or_none

Category = Literal["consultation", "document", "booking", "retainer"]


class Media(BaseModel):
    kind: str
    url: str
    caption: str
    data: dict[str, Any] | None = None

    @classmethod
    def from_proto(cls, media: pb.Media) -> Media:
        data = json_format.MessageToDict(media.data) if media.HasField("data") else None
        return cls(kind=media.kind, url=media.url, caption=media.caption, data=data)


class Tier(BaseModel):
    """A purchasable tier; deadline fields appear only when the tier has them."""

    id: str
    name: str
    price: Money | None = optional()
    complexity: str | None = optional("Documents: simple|standard|complex.")
    delivery_hours: int | None = optional("Documents: draft due this many hours after acknowledgement.")
    revision_days: int | None = optional("Documents: revision window in days after delivery.")
    acknowledge_minutes: int | None = optional("Documents: an agent acknowledges within this many minutes.")
    reply_hours: int | None = optional("Consultations: a lawyer replies within this many hours.")

    @classmethod
    def from_proto(cls, tier: pb.Tier) -> Tier:
        return cls(
            id=tier.id,
            name=tier.name,
            price=money(tier, "price"),
            complexity=or_none(tier.complexity),
            delivery_hours=tier.delivery_hours if tier.HasField("delivery_hours") else None,
            revision_days=tier.revision_days if tier.HasField("revision_days") else None,
            acknowledge_minutes=tier.acknowledge_minutes if tier.HasField("acknowledge_minutes") else None,
            reply_hours=tier.reply_hours if tier.HasField("reply_hours") else None,
        )


class ProcessStage(BaseModel):
    stage: str
    title: str
    description: str


class Rating(BaseModel):
    average: float = Field(description="1.0 to 5.0; 0 when there are no reviews.")
    count: int


class RequirementField(BaseModel):
    name: str
    label: str
    type: str = Field(description="text|textarea|date|number|choice|list")
    required: bool
    choices: list[str] | None = optional("Allowed answers when type is choice.")

    @classmethod
    def from_proto(cls, field: pb.RequirementField) -> RequirementField:
        return cls(
            name=field.name,
            label=field.label,
            type=field.type,
            required=field.required,
            choices=list(field.choices) or None,
        )


class Product(BaseModel):
    id: str
    category: str
    name: str
    description: str
    media: list[Media]
    parameters: dict[str, str]
    price: Money | None
    tiers: list[Tier]
    process: list[ProcessStage]
    rating: Rating
    reviews: list[dict[str, Any]] = Field(
        description="Reviews of the product (not served yet: always empty)."
    )
    requirement_fields: list[RequirementField]
    consultation_kind: str | None = Field(
        description="professional|phone for consultation products, else null."
    )

    @classmethod
    def from_proto(cls, product: pb.Product) -> Product:
        return cls(
            id=product.id,
            category=product.category,
            name=product.name,
            description=product.description,
            media=[Media.from_proto(m) for m in product.media],
            parameters=dict(product.parameters),
            price=money(product, "price"),
            tiers=[Tier.from_proto(t) for t in product.tiers],
            process=[
                ProcessStage(stage=s.stage, title=s.title, description=s.description) for s in product.process
            ],
            rating=Rating(average=product.rating.average, count=product.rating.count),
            reviews=[],
            requirement_fields=[RequirementField.from_proto(f) for f in product.requirement_fields],
            consultation_kind=or_none(product.consultation_kind),
        )


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None
