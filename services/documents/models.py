"""Tables of the documents service, on its own registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.access_log import StaffReads, define_access_log_tables
from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

documents_registry = registry()
metadata = documents_registry.metadata
TABLES = define_runtime_tables(metadata)
# The subjects' data keys that seal case material (services/documents/store/sealed.py).
DATA_KEYS = define_data_keys_table(metadata)
STAFF_READS = StaffReads("documents", define_access_log_tables(metadata))


class DocumentsTable(SQLModel, registry=documents_registry):
    """Base of every documents table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class DocumentOrderRow(DocumentsTable, table=True):
    __tablename__ = "document_orders"

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    order_id: str = Field(unique=True)
    client_id: str
    stage: str
    complexity: str
    assigned_lawyer_id: str = ""
    acknowledge_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    draft_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revision_window_ends_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    product_id: str = ""
    assignment_reason: str = ""
    # The legal field the lawyer was matched by, and where it came from: product|requirements|classified.
    legal_field: str = ""
    legal_field_source: str = ""
    # The tier's clocks (policy in data), in seconds: acknowledgement, drafting, revision window.
    acknowledge_within_seconds: int = 1800
    draft_within_seconds: int = 48 * 3600
    revision_window_seconds: int = 5 * 86400
    paid_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    acknowledged_by: str = ""
    first_delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    completed_reason: str = ""
    # Why it was cancelled (which refunds the order it fulfils): a reason code or `stated`
    # (services/rules/reasons.reason_code), never words a person typed, which would be personal data on a
    # row erasure keeps; those stay in the cancelled stage and the event.
    status_reason: str = Field(default="", sa_column_kwargs={"server_default": ""})
    requirements_json: str = "{}"
    revisions_requested: int = 0
    updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class DocumentStageRow(DocumentsTable, table=True):
    """One stage the order entered: the facts behind the client's timeline (§9.2)."""

    __tablename__ = "document_stages"
    __table_args__ = (UniqueConstraint("document_order_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    document_order_id: str = Field(foreign_key="document_orders.id", index=True)
    stage: str
    actor: str
    reason: str = ""
    entered_at: datetime = Field(sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    idempotency_key: str


class DocumentVersionRow(DocumentsTable, table=True):
    """One uploaded version (R-DOC-6): metadata here, the bytes in the object store under `object_name`."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_order_id", "number"),)

    id: str = Field(primary_key=True)
    document_order_id: str = Field(foreign_key="document_orders.id", index=True)
    number: int
    author_id: str
    note: str = ""
    file_name: str = ""
    size_bytes: int
    media_type: str
    sha256: str  # of the plaintext the client downloads (Repr-Digest), whether or not the object is sealed
    object_name: str
    # The object is sealed with the order's data key (services/runtime/sealed_files.py); False for the files
    # uploaded before sealing, which are stored as they came.
    file_sealed: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    status: str  # in_review | approved | rejected
    reviewer_id: str = ""
    reviewer_licence_number: str = ""
    review_comment: str = ""
    reviewed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class DocumentRevisionRow(DocumentsTable, table=True):
    __tablename__ = "document_revisions"
    __table_args__ = (UniqueConstraint("document_order_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    document_order_id: str = Field(foreign_key="document_orders.id", index=True)
    number: int
    requested_by: str
    instructions: str
    requested_at: datetime = Field(sa_type=DateTime(timezone=True))


class DocumentBreachRow(DocumentsTable, table=True):
    """A missed deadline, recorded and visible (R-DOC-2, R-DOC-3)."""

    __tablename__ = "document_breaches"
    __table_args__ = (UniqueConstraint("document_order_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    document_order_id: str = Field(foreign_key="document_orders.id", index=True)
    kind: str
    due_at: datetime = Field(sa_type=DateTime(timezone=True))
    new_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True))
    idempotency_key: str


class LawyerRosterRow(DocumentsTable, table=True):
    """Staff the documents service assigns and records: lawyers, matched by legal field as in consultation
    (services/rules/assignment.py), and reviewers' licence numbers for approvals (§9.5).

    The documents service's own projection of the catalog's lawyer profiles: `catalog.lawyer.changed`
    upserts a lawyer's fields (services/documents/events.py), the demo lawyers' included (the catalog's
    demo seed publishes them).
    Open load is not stored: it is counted from the open document orders, so it never drifts."""

    __tablename__ = "document_staff"

    user_id: str = Field(primary_key=True)
    role: str  # lawyer | reviewer
    licence_number: str = ""
    assignments: int = 0
    fields: list[str] = Field(default_factory=list, sa_type=ARRAY(String))
    active: bool = True
    # Weekly service hours in China Standard Time, as in consultation; empty = no published hours.
    service_hours: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # A lawyer with this many open document orders is overloaded and gets no more.
    max_open: int = 20
    # Ties go to whoever waited longest for work (fair spreading).
    last_assigned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
