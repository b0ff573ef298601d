"""Online calls: a client calls an online lawyer in the browser (API.md, "Firms, lawyers and online calls")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.schemas.common import RequestModel, or_none, rfc3339


class StartOnlineCall(RequestModel):
    lawyer_id: str = Field(min_length=1, max_length=200)
    media: Literal["audio", "video"]
    consultation_id: str | None = Field(default=None, max_length=200)
    order_id: str | None = Field(
        default=None,
        max_length=200,
        description="The paid phone consultation order (used up by the call) or retainer that pays for it; "
        "when absent, the consultation's order, a retainer or an unused phone consultation order of the "
        "enterprise. None: 409 order_required naming the product to buy.",
    )


class EndOnlineCall(RequestModel):
    outcome: str = Field(min_length=1, max_length=2000)


class OnlineCall(BaseModel):
    id: str
    status: str = Field(description="ringing|connected|ended")
    media: str = Field(description="audio|video")
    lawyer_id: str
    client_id: str
    consultation_id: str | None
    order_id: str | None
    created_at: str | None
    started_at: str | None = Field(description="When the lawyer accepted.")
    ended_at: str | None
    duration_seconds: int
    outcome: str | None
    ended_by: str | None = Field(description="client|lawyer")

    @classmethod
    def from_proto(cls, call: pb.OnlineCall) -> OnlineCall:
        return cls(
            id=call.id,
            status=call.status,
            media=call.media,
            lawyer_id=call.lawyer_id,
            client_id=call.client_id,
            consultation_id=or_none(call.consultation_id),
            order_id=or_none(call.order_id),
            created_at=rfc3339(call, "created_at"),
            started_at=rfc3339(call, "started_at"),
            ended_at=rfc3339(call, "ended_at"),
            duration_seconds=call.duration_seconds,
            outcome=or_none(call.outcome),
            ended_by=or_none(call.ended_by),
        )


class OnlineCallList(BaseModel):
    items: list[OnlineCall]
