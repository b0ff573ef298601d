"""Products as the public API shows them."""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf import json_format
from pydantic import BaseModel, Field

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import money_pb2
from services.gateway.schemas.common import (
    INT32_MAX,
    INT32_MIN,
    Category,
    Complexity,
    LegalField,
    Money,
    ProductConsultationKind,
    RequestModel,
    RequirementFieldType,
    money,
    optional,
    or_none,
    rfc3339,
)

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"


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


class Review(BaseModel):
    """A client's review; who wrote it is not published."""

    id: str
    order_id: str
    product_id: str
    lawyer_id: str | None
    rating: int = Field(description="1 to 5")
    comment: str
    created_at: str | None

    @classmethod
    def from_proto(cls, review: pb.Review) -> Review:
        return cls(
            id=review.id,
            order_id=review.order_id,
            product_id=review.product_id,
            lawyer_id=or_none(review.lawyer_id),
            rating=review.rating,
            comment=review.comment,
            created_at=rfc3339(review, "created_at"),
        )


class CreateReview(RequestModel):
    order_id: str = Field(min_length=1, max_length=200)
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


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
    reviews: list[Review] = Field(description="The newest reviews (detail only; empty in lists).")
    requirement_fields: list[RequirementField]
    consultation_kind: str | None = Field(
        description="professional|phone for consultation products, else null."
    )
    version: int = Field(description="The approved version shown; an order records the version it bought.")

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
            reviews=[Review.from_proto(r) for r in product.reviews],
            requirement_fields=[RequirementField.from_proto(f) for f in product.requirement_fields],
            consultation_kind=or_none(product.consultation_kind),
            version=product.version,
        )


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None


class ProductVersion(Product):
    """A version of a product as its editor wrote it (the product's fields are this version's), with its
    review: only an approved version is public (§9.5)."""

    status: str = Field(description="draft|submitted|approved|rejected")
    author_id: str
    reviewer_id: str | None
    review_comment: str | None
    reviewed_at: str | None
    created_at: str | None

    @classmethod
    def from_version(cls, version: pb.ProductVersion) -> ProductVersion:
        return cls(
            **Product.from_proto(version.product).model_dump(),
            status=version.status,
            author_id=version.author_id,
            reviewer_id=or_none(version.reviewer_id),
            review_comment=or_none(version.review_comment),
            reviewed_at=rfc3339(version, "reviewed_at"),
            created_at=rfc3339(version, "created_at"),
        )


class ProductVersionPage(BaseModel):
    items: list[ProductVersion]
    next_cursor: str | None


class Location(BaseModel):
    lat: float
    lng: float


class OpeningHours(BaseModel):
    weekday: int = Field(description="ISO weekday, 1 = Monday … 7 = Sunday.")
    opens: str = Field(description="HH:MM local time.")
    closes: str = Field(description="HH:MM local time.")


class StaffMember(BaseModel):
    name: str
    role: str
    lawyer_id: str | None = Field(description="The lawyer profile, when the member is a lawyer here.")


class Firm(BaseModel):
    id: str
    name: str
    city: str
    address: str
    location: Location
    opening_hours: list[OpeningHours]
    transit_routes: list[str]
    staff: list[StaffMember]
    rating: Rating
    phone: str
    description: str
    status: str
    takes_new_work: bool
    credit_code: str | None = optional("Staff only.")
    registered_capital: Money | None = optional("Staff only.")
    agreement_starts_on: str | None = optional("Staff only.")
    agreement_ends_on: str | None = optional("Staff only.")
    agreement_sha256: str | None = optional("Staff only.")
    agreement_grace_ends_on: str | None = optional(
        "Staff only: a firm from before onboarding with no agreement on record takes new work until this day."
    )

    @classmethod
    def from_proto(cls, firm: pb.Firm) -> Firm:
        return cls(
            id=firm.id,
            name=firm.name,
            city=firm.city,
            address=firm.address,
            location=Location(lat=firm.location.lat, lng=firm.location.lng),
            opening_hours=[
                OpeningHours(weekday=h.weekday, opens=h.opens, closes=h.closes) for h in firm.opening_hours
            ],
            transit_routes=list(firm.transit_routes),
            staff=[StaffMember(name=m.name, role=m.role, lawyer_id=or_none(m.lawyer_id)) for m in firm.staff],
            rating=Rating(average=firm.rating.average, count=firm.rating.count),
            phone=firm.phone,
            description=firm.description,
            status=firm.status,
            takes_new_work=firm.takes_new_work,
            credit_code=or_none(firm.credit_code),
            registered_capital=money(firm, "registered_capital"),
            agreement_starts_on=or_none(firm.agreement_starts_on),
            agreement_ends_on=or_none(firm.agreement_ends_on),
            agreement_sha256=or_none(firm.agreement_sha256),
            agreement_grace_ends_on=or_none(firm.agreement_grace_ends_on),
        )


class FirmPage(BaseModel):
    items: list[Firm]
    next_cursor: str | None


class ServiceHours(BaseModel):
    weekday: int = Field(ge=1, le=7, description="ISO weekday, 1 = Monday … 7 = Sunday.")
    start: str = Field(pattern=HHMM, description="HH:MM local time.")
    end: str = Field(pattern=HHMM, description="HH:MM local time, after start.")

    model_config = {"extra": "forbid"}


class ServiceException(BaseModel):
    date: str = Field(description="YYYY-MM-DD", pattern=r"^\d{4}-\d{2}-\d{2}$")
    available: bool = Field(description="False: not available that day; true: available start..end instead.")
    start: str = Field(default="", pattern=HHMM + "|^$")
    end: str = Field(default="", pattern=HHMM + "|^$")
    note: str = Field(default="", max_length=200)

    model_config = {"extra": "forbid"}


class Lawyer(BaseModel):
    id: str
    user_id: str | None
    name: str
    firm_id: str
    city: str
    specialty: str
    fields: list[str]
    service_hours: list[ServiceHours]
    service_exceptions: list[ServiceException]
    years_of_practice: int
    licence_number: str | None = optional("Shown to staff only.")
    online: bool
    active: bool
    rating: Rating
    bio: str
    verification: str = Field(description='"" (none submitted) | pending | verified | rejected')
    inspection_due_on: str | None = optional("Staff only.")
    unavailable_reason: str | None = optional("Why the lawyer takes no new work now.")

    @classmethod
    def from_proto(cls, lawyer: pb.Lawyer) -> Lawyer:
        return cls(
            id=lawyer.id,
            user_id=or_none(lawyer.user_id),
            name=lawyer.name,
            firm_id=lawyer.firm_id,
            city=lawyer.city,
            specialty=lawyer.specialty,
            fields=list(lawyer.fields),
            service_hours=[
                ServiceHours(weekday=w.weekday, start=w.start, end=w.end) for w in lawyer.service_hours
            ],
            service_exceptions=[
                ServiceException(date=e.date, available=e.available, start=e.start, end=e.end, note=e.note)
                for e in lawyer.service_exceptions
            ],
            years_of_practice=lawyer.years_of_practice,
            licence_number=or_none(lawyer.licence_number),
            online=lawyer.online,
            active=lawyer.active,
            rating=Rating(average=lawyer.rating.average, count=lawyer.rating.count),
            bio=lawyer.bio,
            verification=lawyer.verification,
            inspection_due_on=or_none(lawyer.inspection_due_on),
            unavailable_reason=or_none(lawyer.unavailable_reason),
        )


class LawyerPage(BaseModel):
    items: list[Lawyer]
    next_cursor: str | None


class LawyerProfile(RequestModel):
    """A lawyer profile as a firm admin writes it (the whole profile; PUT replaces it)."""

    name: str = Field(min_length=1, max_length=100)
    specialty: str = Field(default="", max_length=200)
    fields: list[LegalField] = Field(min_length=1, description="Legal fields, at least one.")
    service_hours: list[ServiceHours] = Field(default_factory=list, max_length=50)
    service_exceptions: list[ServiceException] = Field(default_factory=list, max_length=200)
    years_of_practice: int = Field(ge=0, le=70)
    licence_number: str = Field(
        default="", pattern=r"^(\d{17})?$", description="17-digit practising certificate number."
    )
    bio: str = Field(default="", max_length=4000)
    user_id: str = Field(default="", max_length=64, description="The lawyer's identity account.")
    online: bool = False

    def to_proto(self) -> pb.LawyerProfile:
        return pb.LawyerProfile(
            name=self.name,
            specialty=self.specialty,
            fields=list(self.fields),
            service_hours=[pb.ServiceHours(**w.model_dump()) for w in self.service_hours],
            service_exceptions=[pb.ServiceException(**e.model_dump()) for e in self.service_exceptions],
            years_of_practice=self.years_of_practice,
            licence_number=self.licence_number,
            bio=self.bio,
            user_id=self.user_id,
            online=self.online,
        )


class MoneyInput(RequestModel):
    # Bounded by the `integer` price column; a negative price is the catalog's to refuse (naming the tier).
    amount: int = Field(ge=INT32_MIN, le=INT32_MAX, description="Integer number of fen.")
    currency: Literal["CNY"] = "CNY"


class TierInput(RequestModel):
    id: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=100)
    price: MoneyInput
    complexity: Complexity | None = None
    delivery_hours: int | None = Field(default=None, ge=1, le=720)
    revision_days: int | None = Field(default=None, ge=0, le=60)
    acknowledge_minutes: int | None = Field(default=None, ge=1, le=1440)
    reply_hours: int | None = Field(default=None, ge=1, le=720)

    def to_proto(self) -> pb.Tier:
        tier = pb.Tier(
            id=self.id,
            name=self.name,
            price=money_pb2.Money(amount=self.price.amount, currency=self.price.currency),
            complexity=self.complexity or "",
        )
        for name in ("delivery_hours", "revision_days", "acknowledge_minutes", "reply_hours"):
            value = getattr(self, name)
            if value is not None:
                setattr(tier, name, value)
        return tier


class MediaInput(RequestModel):
    kind: Literal["image", "video", "interactive"]
    url: str = Field(default="", max_length=2000)
    caption: str = Field(default="", max_length=500)
    data: dict[str, Any] | None = None


class ProcessStageInput(RequestModel):
    stage: str = Field(min_length=1, max_length=50)
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)


class RequirementFieldInput(RequestModel):
    name: str = Field(min_length=1, max_length=50)
    label: str = Field(min_length=1, max_length=200)
    type: RequirementFieldType
    required: bool = False
    choices: list[str] = Field(default_factory=list, max_length=50)


class ProductInput(RequestModel):
    """A whole product as an editor writes it (PUT replaces it; rating and reviews are kept)."""

    category: Category
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=20000)
    price: MoneyInput
    tiers: list[TierInput] = Field(min_length=1, max_length=20)
    media: list[MediaInput] = Field(default_factory=list, max_length=50)
    parameters: dict[str, str] = Field(default_factory=dict)
    process: list[ProcessStageInput] = Field(min_length=1, max_length=30)
    requirement_fields: list[RequirementFieldInput] = Field(default_factory=list, max_length=50)
    consultation_kind: ProductConsultationKind | None = None

    def to_proto(self, product_id: str = "") -> pb.Product:
        product = pb.Product(
            id=product_id,
            category=self.category,
            name=self.name,
            description=self.description,
            parameters=self.parameters,
            tiers=[t.to_proto() for t in self.tiers],
            process=[pb.ProcessStage(**s.model_dump()) for s in self.process],
            requirement_fields=[pb.RequirementField(**f.model_dump()) for f in self.requirement_fields],
            consultation_kind=self.consultation_kind or "",
        )
        product.price.amount, product.price.currency = self.price.amount, self.price.currency
        for item in self.media:
            media = product.media.add(kind=item.kind, url=item.url, caption=item.caption)
            if item.data is not None:
                media.data.update(item.data)
        return product


class NewProduct(ProductInput):
    """A new product: `id` names it (lower-case letters, digits and hyphens), or one is made."""

    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")


class ReviewDecision(RequestModel):
    """A reviewer's decision on a submitted version (of an article or a product)."""

    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=4000, description="Required to reject.")


class OpeningHoursInput(RequestModel):
    weekday: int = Field(ge=1, le=7)
    opens: str = Field(pattern=HHMM)
    closes: str = Field(pattern=HHMM)


class StaffMemberInput(RequestModel):
    name: str = Field(min_length=1, max_length=100)
    role: str = Field(default="", max_length=100)
    lawyer_id: str = Field(default="", max_length=100)


class LocationInput(RequestModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class FirmInput(RequestModel):
    """A firm's whole public profile as its admin writes it (PUT replaces it; rating is kept)."""

    name: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=50)
    address: str = Field(min_length=1, max_length=500)
    location: LocationInput
    opening_hours: list[OpeningHoursInput] = Field(default_factory=list, max_length=21)
    transit_routes: list[str] = Field(default_factory=list, max_length=20)
    staff: list[StaffMemberInput] = Field(default_factory=list, max_length=100)
    phone: str = Field(default="", max_length=50)
    description: str = Field(default="", max_length=4000)

    def to_proto(self, firm_id: str) -> pb.Firm:
        return pb.Firm(
            id=firm_id,
            name=self.name,
            city=self.city,
            address=self.address,
            location=pb.Location(lat=self.location.lat, lng=self.location.lng),
            opening_hours=[pb.OpeningHours(**h.model_dump()) for h in self.opening_hours],
            transit_routes=self.transit_routes,
            staff=[pb.StaffMember(**m.model_dump()) for m in self.staff],
            phone=self.phone,
            description=self.description,
        )


class OnlineStatus(RequestModel):
    online: bool
