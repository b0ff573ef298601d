"""Local development only (COUNSEL_ENV dev or test): what the platform would have sent by SMS or e-mail.
Not mounted at all in prod."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from counsel.notification.v1 import notification_service_pb2 as pb
from services.gateway.deps import ClientsDep
from services.gateway.routing import api_router
from services.gateway.schemas.notifications import DevMessage, DevOutbox

router = api_router("dev")


@router.get("/api/v1/dev/outbox", response_model=DevOutbox)
async def dev_outbox(
    clients: ClientsDep,
    to: Annotated[str, Query(max_length=320, description="A phone (with or without +86) or an e-mail.")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> DevOutbox:
    """SMS and e-mails captured instead of sent, newest first (OTP codes included)."""
    reply = await clients.notification_internal.ListDevOutbox(
        pb.ListDevOutboxRequest(to=to, limit=limit or 0)
    )
    return DevOutbox(items=[DevMessage.from_proto(m) for m in reply.messages])
