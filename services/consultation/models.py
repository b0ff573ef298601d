"""Tables of the consultation service, on its own registry so its metadata never mixes with another's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.runtime.access_log import StaffReads, define_access_log_tables
from services.runtime.keys import define_data_keys_table
from services.runtime.tables import define_runtime_tables

consultation_registry = registry()
metadata = consultation_registry.metadata
TABLES = define_runtime_tables(metadata)
# The subjects' data keys that seal case material (services/consultation/store/sealed.py).
DATA_KEYS = define_data_keys_table(metadata)
STAFF_READS = StaffReads("consultation", define_access_log_tables(metadata))


class ConsultationTable(SQLModel, registry=consultation_registry):
    """Base of every consultation table: SQLModel takes the registry from a base class, not from `table=True` classes."""


class ConsultationRow(ConsultationTable, table=True):
    __tablename__ = "consultations"
    __table_args__ = (
        # One consultation per paid consultation order, however many are submitted at once.
        Index("uq_consultations_spent_order", "order_id", unique=True, postgresql_where=text("spends_order")),
    )

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str = Field(index=True)
    kind: str
    status: str = Field(index=True)
    subject: str
    question: str
    order_id: str = ""
    # True when the consultation uses up its paid order (a consultation order's one); a retainer's do not.
    spends_order: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    legal_field: str = ""
    assigned_lawyer_id: str = Field(default="", index=True)
    reply_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_reason: str = ""
    # R-CON-2: the classifier's answer; an agent classifies by hand when it was not confident.
    needs_manual_classification: bool = False
    classification_confidence: float = 0.0
    # reply_due_at is the original promise and never moves; current_due_at is the assigned lawyer's own
    # deadline, which differs after an escalation.
    current_due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
    escalations: int = 0
    assignment_reason: str = ""
    answered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    rating: int = 0
    rating_comment: str = ""
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ConsultationStageRow(ConsultationTable, table=True):
    """One stage the consultation entered: the facts behind the client's timeline."""

    __tablename__ = "consultation_stages"
    __table_args__ = (UniqueConstraint("consultation_id", "idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True)
    stage: str
    actor: str
    entered_at: datetime = Field(sa_type=DateTime(timezone=True))
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    idempotency_key: str
    # What happened, for the history: the assigned lawyer and why, the missed deadline, ... (no question text).
    detail: str = ""


class ConsultationMessageRow(ConsultationTable, table=True):
    __tablename__ = "consultation_messages"

    id: str = Field(primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True)
    author_id: str
    author_role: str
    body: str
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class LawyerProjectionRow(ConsultationTable, table=True):
    """The consultation service's own view of the lawyers it can assign (R-CON-2, assignment).

    The catalog owns lawyer profiles; a durable consumer of its `lawyer.changed` events upserts these rows
    (keyed by the lawyer's identity account), so the service never reads the catalog's tables; the demo
    lawyers arrive the same way, from the catalog's demo seed. Open load is not stored: it is counted
    from the consultations themselves, so it can never drift."""

    __tablename__ = "consultation_lawyers"

    lawyer_id: str = Field(primary_key=True)
    display_name: str = ""
    fields: list[str] = Field(default_factory=list, sa_type=ARRAY(String))
    active: bool = True
    # Why the catalog says the lawyer takes no new work now ("" while active): shown when work is refused.
    unavailable_reason: str = ""
    # Weekly service hours in China Standard Time: [{"days": [0..6 (Mon=0)], "start": "09:00", "end": "18:00"}].
    service_hours: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    # A lawyer with this many assigned, unanswered consultations is overloaded and gets no more.
    max_open: int = 20
    # Ties go to whoever waited longest for work (fair spreading).
    last_assigned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ComplaintRow(ConsultationTable, table=True):
    """A client's complaint about one of their enterprise's services (a consultation, document order, booking
    or order), tracked by agents to resolution against a response clock (R-CS-3, §6.1.4.4)."""

    __tablename__ = "consultation_complaints"

    id: str = Field(primary_key=True)
    subject_type: str = Field(index=True)
    subject_id: str = Field(index=True)
    # Set when the subject is a consultation: its history shows the complaint's steps.
    consultation_id: str | None = Field(default=None, foreign_key="consultations.id", index=True)
    tenant_id: str = Field(index=True)
    client_id: str
    status: str = Field(index=True)
    body: str
    resolution: str = ""
    handled_by: str = ""
    reopen_reason: str = ""
    # The running response clock's due time; None once resolved or closed.
    due_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # When the running clock ran out and the supervisors were told; None while it has not (reset on reopen).
    escalated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class CallRecordRow(ConsultationTable, table=True):
    """A bridged call of a phone consultation: parties, start, end, duration, outcome, recording (§6.2.4.4)."""

    __tablename__ = "consultation_calls"

    id: str = Field(primary_key=True)
    consultation_id: str = Field(foreign_key="consultations.id", index=True)
    agent_id: str
    lawyer_id: str
    status: str
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    duration_seconds: int = 0
    outcome: str = ""
    recording_ref: str = ""
    provider: str
    provider_call_id: str = ""


class OnlineCallRow(ConsultationTable, table=True):
    """A client's voice or video call to an online lawyer in the browser (§6.2.4.1, §6.2.4.4): who, when, how
    long, what came of it, and the consultation or order it belongs to. The WebRTC signalling relayed between
    the two parties is never stored."""

    __tablename__ = "online_calls"
    __table_args__ = (
        # One call per phone consultation order, however many are started at once.
        Index("uq_online_calls_spent_order", "order_id", unique=True, postgresql_where=text("spends_order")),
    )

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str = Field(index=True)
    # The catalog's lawyer and the identity account that answers for them.
    lawyer_id: str
    lawyer_user_id: str = Field(index=True)
    media: str
    status: str
    consultation_id: str = ""
    # The paid order the call uses (domain.online_call_spends): a phone consultation order, which only this
    # call may use while it rings or once it was answered, or a retainer.
    order_id: str = ""
    spends_order: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    duration_seconds: int = 0
    ended_by: str = ""
    outcome: str = ""


class ChatConversationRow(ConsultationTable, table=True):
    """An instant-chat conversation of one client with customer service (R-CS-1). At most one per client is
    open (not closed) at a time: a partial unique index in the migration enforces it."""

    __tablename__ = "chat_conversations"
    __table_args__ = (
        Index(
            "uq_chat_conversations_open_client",
            "client_id",
            unique=True,
            postgresql_where=text("status <> 'closed'"),
        ),
    )

    id: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    client_id: str = Field(index=True)
    # bot → queued → active → closed (services/consultation/chat.py).
    status: str = Field(index=True)
    agent_id: str = ""
    # The newest message's sequence number; the next message takes last_seq + 1 under the row lock.
    last_seq: int = 0
    queued_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class ChatMessageRow(ConsultationTable, table=True):
    """One chat message; (conversation_id, seq) is gap-free, so a reconnecting client asks for what follows
    the last sequence number it saw."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        Index(
            "uq_chat_messages_client_message_id",
            "conversation_id",
            "client_message_id",
            unique=True,
            postgresql_where=text("client_message_id <> ''"),
        ),
    )

    id: str = Field(primary_key=True)
    conversation_id: str = Field(foreign_key="chat_conversations.id", index=True)
    seq: int
    author_id: str = ""
    author_role: str
    body: str
    # The sender's own id: a resend after a reconnect is recognised (partial unique index in the migration).
    client_message_id: str = ""
    faq_article_id: str = ""
    faq_score: float = 0.0
    created_at: datetime = Field(sa_type=DateTime(timezone=True))


class ClientSignalRow(ConsultationTable, table=True):
    """What a client did that speaks to purchase intent (R-CS-2): product views, orders created or paid,
    learnt from catalog and payment events; chat messages are read from the chat tables."""

    __tablename__ = "chat_client_signals"
    __table_args__ = (UniqueConstraint("event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str
    client_id: str = Field(index=True)
    # The client's enterprise, so an agent can start a conversation with a client who never chatted.
    tenant_id: str = ""
    # product_viewed | order_created | order_paid | order_cancelled
    kind: str
    subject_id: str = ""
    occurred_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)


class MajorMatterRow(ConsultationTable, table=True):
    """A consultation escalated as a major matter (§5.3.1, R-CON-4): the team formed for it, the offline
    meeting held for the client in booking, and the team's conclusion with its signatures. One per
    consultation (the key), so escalating twice finds the first."""

    __tablename__ = "consultation_major_matters"

    consultation_id: str = Field(primary_key=True, foreign_key="consultations.id")
    # team_formed → conclusion_drafted → concluded (services/consultation/major.py).
    status: str
    # The lawyers' identity accounts, the lead (who meets the client) first.
    team: list[str] = Field(sa_type=ARRAY(String))
    booking_id: str = ""
    # Sealed with the client's data key, like the rest of the case (store/sealed.py).
    reason: str
    escalated_by: str
    conclusion: str = ""
    signed_by: list[str] = Field(default_factory=list, sa_type=ARRAY(String))
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    concluded_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))
