"""Document orders as the public API shows them (API.md "Document services")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.documents.v1 import documents_service_pb2 as pb
from services.gateway.schemas.common import Complexity, RequestModel, or_none, rfc3339
from services.gateway.schemas.consultations import Stage


class CreateDocumentOrder(RequestModel):
    """Dev and test only, until a paid order of a document product creates it (the payment issue)."""

    order_id: str | None = Field(
        default=None, max_length=200, description="The paid order it fulfils; a new id when absent."
    )
    tenant_id: str = Field(min_length=1, max_length=200, description="The client's enterprise.")
    client_id: str = Field(min_length=1, max_length=200)
    product_id: str = Field(default="", max_length=200)
    complexity: Complexity
    requirements: dict[str, str] = Field(default_factory=dict, description="The client's answers.")


class Acknowledge(RequestModel):
    note: str = Field(default="", max_length=2000)


class Assign(RequestModel):
    lawyer_id: str = Field(min_length=1, max_length=200, description="An active lawyer who drafts documents.")
    override_reason: str = Field(
        default="",
        max_length=2000,
        description="Required when the lawyer has not passed the order's legal field: why they take it anyway "
        "(recorded as an override).",
    )


class Review(RequestModel):
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=2000, description="Required when rejecting.")


class RevisionRequest(RequestModel):
    instructions: str = Field(min_length=1, max_length=10000)


class Version(BaseModel):
    number: int
    author_id: str
    note: str
    file_name: str
    size_bytes: int
    media_type: str
    sha256: str = Field(description="Hex SHA-256 of the file.")
    status: str = Field(description="in_review|approved|rejected")
    created_at: str | None
    reviewer_id: str | None
    reviewer_licence_number: str | None
    review_comment: str | None
    reviewed_at: str | None

    @classmethod
    def from_proto(cls, version: pb.DocumentVersion) -> Version:
        return cls(
            number=version.number,
            author_id=version.author_id,
            note=version.note,
            file_name=version.file_name,
            size_bytes=version.size_bytes,
            media_type=version.media_type,
            sha256=version.sha256,
            status=version.status,
            created_at=rfc3339(version, "created_at"),
            reviewer_id=or_none(version.reviewer_id),
            reviewer_licence_number=or_none(version.reviewer_licence_number),
            review_comment=or_none(version.review_comment),
            reviewed_at=rfc3339(version, "reviewed_at"),
        )


class Breach(BaseModel):
    kind: str = Field(description="acknowledgement|delivery")
    due_at: str | None
    recorded_at: str | None
    new_due_at: str | None

    @classmethod
    def from_proto(cls, breach: pb.SlaBreach) -> Breach:
        return cls(
            kind=breach.kind,
            due_at=rfc3339(breach, "due_at"),
            recorded_at=rfc3339(breach, "recorded_at"),
            new_due_at=rfc3339(breach, "new_due_at"),
        )


class DocumentOrder(BaseModel):
    id: str
    order_id: str
    client_id: str
    product_id: str | None
    stage: str = Field(description="awaiting_acknowledgement|drafting|in_review|delivered|revising|completed")
    complexity: str
    assigned_lawyer_id: str | None
    assignment_reason: str | None
    legal_field: str = Field(
        description="The legal field the lawyer is matched by (as a lawyer's `fields[]`: contract|labour|...|other)."
    )
    legal_field_source: str = Field(
        description="Where `legal_field` came from: product|requirements|classified|default."
    )
    acknowledge_due_at: str | None
    draft_due_at: str | None
    revision_window_ends_at: str | None
    revisions_requested: int
    completed_reason: str | None
    status_reason: str | None = Field(
        description="Why it was cancelled (the order it fulfils is refunded): a reason code (client_request, "
        "fulfilment_failed, ...) or `stated` when a person typed it; null otherwise."
    )
    created_at: str | None
    requirements: dict[str, str]
    versions: list[Version] = Field(description="Clients see approved versions only; staff see all.")
    stages: list[Stage]
    breaches: list[Breach]

    @classmethod
    def from_proto(cls, order: pb.DocumentOrder) -> DocumentOrder:
        return cls(
            id=order.id,
            order_id=order.order_id,
            client_id=order.client_id,
            product_id=or_none(order.product_id),
            stage=order.stage,
            complexity=order.complexity,
            assigned_lawyer_id=or_none(order.assigned_lawyer_id),
            assignment_reason=or_none(order.assignment_reason),
            legal_field=order.legal_field,
            legal_field_source=order.legal_field_source,
            acknowledge_due_at=rfc3339(order, "acknowledge_due_at"),
            draft_due_at=rfc3339(order, "draft_due_at"),
            revision_window_ends_at=rfc3339(order, "revision_window_ends_at"),
            revisions_requested=order.revisions_requested,
            completed_reason=or_none(order.completed_reason),
            status_reason=or_none(order.status_reason),
            created_at=rfc3339(order, "created_at"),
            requirements=dict(order.requirements),
            versions=[Version.from_proto(v) for v in order.versions],
            stages=[Stage.from_proto(s) for s in order.stages],
            breaches=[Breach.from_proto(b) for b in order.breaches],
        )


class DocumentOrderPage(BaseModel):
    items: list[DocumentOrder]
    next_cursor: str | None
