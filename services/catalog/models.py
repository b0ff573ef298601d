"""Tables of the catalog service, on its own registry."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Column, Computed, DateTime, Index, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

catalog_registry = registry()
metadata = catalog_registry.metadata
TABLES = define_runtime_tables(metadata)
DATA_KEYS = define_data_keys_table(metadata)


# Search columns hold jieba-segmented, lower-cased text (services/catalog/search.py); PostgreSQL turns them
# into a weighted tsvector (title words rank above body words) that a GIN index serves.
SEARCH_VECTOR = (
    "setweight(to_tsvector('simple'::regconfig, search_title), 'A') || "
    "to_tsvector('simple'::regconfig, search_body)"
)


def _add_search_vector(model: Any) -> None:
    """Put the generated `search_vector` column on `model`'s table (so migrations and queries see it) after
    the class is mapped, so the ORM never reads or writes it (PostgreSQL refuses writes to it)."""
    table = model.__table__
    column = Column("search_vector", TSVECTOR, Computed(SEARCH_VECTOR, persisted=True), nullable=True)
    table.append_column(column)
    Index(f"ix_{table.name}_search_vector", column, postgresql_using="gin")  # attaches to the column's table


class CatalogTable(SQLModel, registry=catalog_registry):
    """Base of every catalog table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class ProductRow(CatalogTable, table=True):
    __tablename__ = "products"

    id: str = Field(primary_key=True)
    category: str = Field(index=True)
    name: str
    description: str
    price_fen: int
    currency: str = "CNY"
    # Structured content the client sees; tiers carry the clocks the workflows receive as input.
    media: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    parameters: dict[str, str] = Field(default_factory=dict, sa_type=JSONB)
    tiers: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    process: list[dict[str, str]] = Field(default_factory=list, sa_type=JSONB)
    requirement_fields: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    consultation_kind: str = ""
    rating_average: float = 0.0
    rating_count: int = 0
    published: bool = Field(default=True, index=True)
    # The approved version this row shows (product_versions); orders record it.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    search_title: str = ""
    search_body: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class ProductVersionRow(CatalogTable, table=True):
    """Each version of a product as an editor wrote it (§6.1.3.2, §9.5). A product's row in `products` is
    the content of its last approved version, written when a reviewer approves; a product with no approved
    version has no row there, so nothing unreviewed is ever public or sold."""

    __tablename__ = "product_versions"

    product_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    status: str = Field(index=True)  # draft | submitted | approved | rejected
    # The product's own fields (ProductRow's, without rating and search text), as the editor wrote them.
    content: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    author_id: str
    reviewer_id: str = ""
    review_comment: str = ""
    reviewed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class FirmRow(CatalogTable, table=True):
    __tablename__ = "firms"

    id: str = Field(primary_key=True)
    name: str
    city: str = Field(index=True)
    address: str
    lat: float
    lng: float
    phone: str = ""
    description: str = ""
    opening_hours: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    transit_routes: list[str] = Field(default_factory=list, sa_type=JSONB)
    staff: list[dict[str, str]] = Field(default_factory=list, sa_type=JSONB)
    # Identity accounts allowed to manage this firm and its lawyers (role firm_admin + membership here).
    admin_user_ids: list[str] = Field(default_factory=list, sa_type=JSONB)
    rating_average: float = 0.0
    rating_count: int = 0
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    # Onboarding (§4.1.1, §4.1.2, services/catalog/qualifications.py): legal-entity details and the signed
    # cooperation agreement, whose file is in the `qualifications` bucket under `agreement_object`.
    credit_code: str | None = Field(default=None, unique=True)
    registered_capital_fen: int = Field(default=0, sa_type=BigInteger)  # beyond an int32 (¥21.47 M)
    status: str = "pending"  # pending | active
    agreement_starts_on: date | None = None
    agreement_ends_on: date | None = None
    agreement_object: str = ""
    agreement_sha256: str = ""
    agreement_warned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # A firm from before onboarding with no agreement on record takes new work until this day (migration 0011).
    agreement_grace_ends_on: date | None = None


class LawyerRow(CatalogTable, table=True):
    __tablename__ = "lawyers"

    id: str = Field(primary_key=True)
    user_id: str = Field(default="", index=True)
    firm_id: str = Field(foreign_key="firms.id", index=True)
    city: str = Field(default="", index=True)  # the firm's city, copied so listing needs no join
    name: str
    specialty: str = ""
    bio: str = ""
    fields: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String), nullable=False))
    service_hours: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    service_exceptions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONB)
    years_of_practice: int = 0
    licence_number: str = ""
    online: bool = False
    active: bool = Field(default=False, index=True)
    rating_average: float = 0.0
    rating_count: int = 0
    search_title: str = ""
    search_body: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
    # Credentials (§4.2.1): the certificate number is `licence_number`; scans in the `qualifications` bucket.
    verification: str = ""  # "" (none submitted) | pending | verified | rejected
    inspection_due_on: date | None = None
    practice_certificate_sha256: str = ""
    degree_certificate_sha256: str = ""


class LawyerVerificationRow(CatalogTable, table=True):
    """One verification decision on a lawyer's credentials, with what the verifier saw (§4.2.1): the audit
    trail supervisors read. Never updated."""

    __tablename__ = "lawyer_verifications"

    id: str = Field(primary_key=True)
    lawyer_id: str = Field(foreign_key="lawyers.id", index=True)
    decision: str  # verified | rejected
    notes: str = ""
    verifier_id: str
    verifier_role: str  # operator | firm_admin | firm_service
    certificate_number: str
    inspection_due_on: date | None = None
    practice_certificate_sha256: str
    degree_certificate_sha256: str
    years_of_practice: int
    decided_at: datetime = Field(sa_type=DateTime(timezone=True))


class ArticleRow(CatalogTable, table=True):
    __tablename__ = "articles"

    id: str = Field(primary_key=True)
    kind: str = Field(index=True)
    author_id: str
    # The editorial column it appears in ("" for none) and the industries it targets (none: every one).
    column_id: str = Field(default="", index=True, sa_column_kwargs={"server_default": ""})
    industries: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String), nullable=False, server_default="{}"),
    )
    latest_version: int = 1
    # The approved version the public sees; None until the first approval.
    published_version: int | None = None
    published_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ArticleVersionRow(CatalogTable, table=True):
    __tablename__ = "article_versions"

    article_id: str = Field(foreign_key="articles.id", primary_key=True)
    version: int = Field(primary_key=True)
    status: str  # draft | submitted | approved | rejected
    title: str
    body: str
    author_id: str
    reviewer_id: str = ""
    review_comment: str = ""
    reviewed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    search_title: str = ""
    search_body: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class ColumnRow(CatalogTable, table=True):
    """An editorial column (§4.2.2): laws and regulations, legal developments, cases, annotated contract
    templates or risk alerts, possibly aimed at some industries."""

    __tablename__ = "columns"

    id: str = Field(primary_key=True)
    kind: str
    name: str
    description: str = ""
    industries: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String), nullable=False))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class ColumnIssueRow(CatalogTable, table=True):
    """A planned issue of a column on a date: the editor's calendar. Published once its article is."""

    __tablename__ = "column_issues"
    __table_args__ = (Index("ix_column_issues_column_id_planned_for", "column_id", "planned_for"),)

    id: str = Field(primary_key=True)
    column_id: str = Field(foreign_key="columns.id")
    planned_for: date
    title: str
    article_id: str = ""
    planned_by: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class OrderRecordRow(CatalogTable, table=True):
    """What catalog learns about an order from payment and fulfilment events: who bought what, who served
    it and whether it finished, so that only the buyer of a completed order can review it (R-Q-1)."""

    __tablename__ = "order_records"

    order_id: str = Field(primary_key=True)
    client_id: str = ""
    tenant_id: str = ""
    product_id: str = ""
    consultation_id: str = Field(default="", index=True)
    lawyer_id: str = ""  # lawyer profile id
    status: str = ""  # created | paid | completed | cancelled | refunded
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ReviewRow(CatalogTable, table=True):
    __tablename__ = "reviews"
    __table_args__ = (CheckConstraint("rating BETWEEN 1 AND 5", name="ck_reviews_rating"),)

    id: str = Field(primary_key=True)
    order_id: str = Field(unique=True)  # one review per order
    product_id: str = Field(index=True)
    lawyer_id: str = Field(default="", index=True)
    firm_id: str = ""
    client_id: str
    tenant_id: str = ""
    rating: int
    comment: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


for _model in (ProductRow, LawyerRow, ArticleVersionRow):
    _add_search_vector(_model)


class FirmEventRow(CatalogTable, table=True):
    """What happened to the work of a firm's lawyers, in the order the catalog learnt it: the stream a law
    firm's system follows (CatalogService.WatchFirmEvents, issue 17 item 4). Filled from booking, documents
    and consultation events that name a lawyer; the catalog owns who works for which firm. No case text."""

    __tablename__ = "firm_events"
    __table_args__ = (Index("ix_firm_events_firm_id_id", "firm_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)  # the cursor (commit order)
    event_id: str = Field(unique=True)  # the envelope's id: an event redelivered is recorded once
    firm_id: str
    type: str
    object_type: str  # booking | document_order | consultation
    object_id: str
    lawyer_user_id: str
    lawyer_id: str = ""
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))


class EnterpriseSignalRow(CatalogTable, table=True):
    """What an enterprise did that speaks to its next purchase (§5.5, R-Q-2), one row per event, kept by
    the `next-purchase` consumer: its consultations' legal fields, product views, paid orders, ratings,
    meetings and visits. Keyed by tenant (the enterprise): a recommendation reads one tenant's rows only.
    No case text, no personal data beyond the user who acted."""

    __tablename__ = "enterprise_signals"
    __table_args__ = (Index("ix_enterprise_signals_tenant_id_occurred_at", "tenant_id", "occurred_at"),)

    event_id: str = Field(primary_key=True)  # the envelope's id: a redelivered event is recorded once
    tenant_id: str
    user_id: str = ""  # who acted ("" when the event does not say)
    # consultation | viewed | order_created | order_paid | rated | booking | visit (histories.Event kinds)
    kind: str
    subject: str = ""  # the legal field or the product
    reference: str = Field(default="", index=True)  # the order, for a paid order's product
    stars: int = 0
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True))


class SuggestionRow(CatalogTable, table=True):
    """A next purchase suggested to a client by notification (opt-in marketing): one per enterprise and
    product within `recommendations.SUGGEST_AGAIN_AFTER`, so a busy enterprise is not told twice."""

    __tablename__ = "recommendation_suggestions"

    tenant_id: str = Field(primary_key=True)
    product_id: str = Field(primary_key=True)
    suggested_at: datetime = Field(sa_type=DateTime(timezone=True))


class SuggestionPassRow(CatalogTable, table=True):
    """The next-purchase pass of an enterprise (`EnterpriseHistories.suggest`), at most one per
    `recommendations.SUGGEST_PASS_EVERY`: when the last one ran, and when one is owed (an event came
    within the interval; the background sweep runs it then, so the last event of a burst is considered).
    In the database, so the limit holds across catalog processes and redelivered events."""

    __tablename__ = "recommendation_passes"

    tenant_id: str = Field(primary_key=True)
    passed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
