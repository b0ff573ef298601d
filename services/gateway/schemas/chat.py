"""Instant chat (R-CS-1) and purchase intent (R-CS-2) as the public API shows them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from counsel.consultation.v1 import consultation_service_pb2 as pb
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from services.gateway.schemas.common import RequestModel, or_none, rfc3339
from services.gateway.schemas.recommendations import Recommendation


class PurchaseIntent(BaseModel):
    client_id: str
    score: float
    level: str
    reasons: list[str]

    @classmethod
    def from_proto(cls, intent: pb.PurchaseIntent) -> PurchaseIntent:
        return cls(
            client_id=intent.client_id, score=intent.score, level=intent.level, reasons=list(intent.reasons)
        )


class ClientActivity(BaseModel):
    kind: str
    source: str
    subject_id: str | None
    occurred_at: str | None
    detail: dict[str, str]

    @classmethod
    def from_proto(cls, activity: identity_pb.Activity) -> ClientActivity:
        return cls(
            kind=activity.kind,
            source=activity.source,
            subject_id=or_none(activity.subject_id),
            occurred_at=rfc3339(activity, "occurred_at"),
            detail=dict(activity.detail),
        )


class Conversation(BaseModel):
    id: str
    client_id: str
    status: str
    agent_id: str | None
    last_seq: int
    queued_at: str | None
    created_at: str | None
    updated_at: str | None
    purchase_intent: PurchaseIntent | None = None
    client_activity: list[ClientActivity] | None = None

    @classmethod
    def from_proto(cls, row: pb.ChatConversation) -> Conversation:
        return cls(
            id=row.id,
            client_id=row.client_id,
            status=row.status,
            agent_id=or_none(row.agent_id),
            last_seq=row.last_seq,
            queued_at=rfc3339(row, "queued_at"),
            created_at=rfc3339(row, "created_at"),
            updated_at=rfc3339(row, "updated_at"),
            purchase_intent=(
                PurchaseIntent.from_proto(row.purchase_intent) if row.HasField("purchase_intent") else None
            ),
        )


class ChatMessage(BaseModel):
    id: str
    conversation_id: str
    seq: int
    author_id: str | None
    author_role: str
    body: str
    created_at: str | None
    faq_article_id: str | None
    faq_score: float | None
    client_message_id: str | None

    @classmethod
    def from_proto(cls, m: pb.ChatMessage) -> ChatMessage:
        return cls(
            id=m.id,
            conversation_id=m.conversation_id,
            seq=m.seq,
            author_id=or_none(m.author_id),
            author_role=m.author_role,
            body=m.body,
            created_at=rfc3339(m, "created_at"),
            faq_article_id=or_none(m.faq_article_id),
            faq_score=round(m.faq_score, 4) if m.faq_article_id else None,
            client_message_id=or_none(m.client_message_id),
        )

    def frame(self) -> dict[str, Any]:
        return {"type": "message", **self.model_dump()}


class ConversationMessages(BaseModel):
    conversation: Conversation | None
    messages: list[ChatMessage]
    more: bool


class ChatQueue(BaseModel):
    items: list[Conversation]


class ClientInsight(BaseModel):
    purchase_intent: PurchaseIntent
    client_activity: list[ClientActivity]
    # Beside the intent: what the client's enterprise is likely to buy next (§5.5), for the follow-up.
    recommendations: list[Recommendation]


class PurchaseLead(BaseModel):
    purchase_intent: PurchaseIntent
    tenant_id: str | None
    last_signal_at: str | None
    open_conversation_id: str | None

    @classmethod
    def from_proto(cls, lead: pb.PurchaseLead) -> PurchaseLead:
        return cls(
            purchase_intent=PurchaseIntent.from_proto(lead.purchase_intent),
            tenant_id=or_none(lead.tenant_id),
            last_signal_at=rfc3339(lead, "last_signal_at"),
            open_conversation_id=or_none(lead.open_conversation_id),
        )


class PurchaseLeads(BaseModel):
    items: list[PurchaseLead]


class PostChatMessage(RequestModel):
    conversation_id: str | None = Field(
        default=None, max_length=200, description="Clients: empty for their open one."
    )
    body: str = Field(min_length=1, max_length=4000)
    client_message_id: str | None = Field(default=None, max_length=100, description="Deduplicates a resend.")
    request_agent: bool = False


class PostedChat(BaseModel):
    conversation: Conversation
    messages: list[ChatMessage]


class StartChat(RequestModel):
    body: str = Field(min_length=1, max_length=4000)
