"""The caller's in-app inbox."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from counsel.common.v1 import paging_pb2
from counsel.notification.v1 import notification_service_pb2 as pb
from services.gateway.deps import ClientsDep, CurrentPrincipal
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.notifications import Notification, NotificationPage

router = APIRouter(tags=["notifications"])


@router.get("/api/v1/notifications", response_model=NotificationPage)
async def list_notifications(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    unread: Annotated[bool, Query(description="1 for unread notifications only.")] = False,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> NotificationPage:
    reply = await clients.notification.ListNotifications(
        pb.ListNotificationsRequest(
            unread_only=unread, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)
        )
    )
    return NotificationPage(
        items=[Notification.from_proto(n) for n in reply.notifications],
        next_cursor=next_cursor(reply.page),
        unread_count=reply.unread_count,
    )


@router.post("/api/v1/notifications/{notification_id}/read", response_model=Notification)
async def mark_read(notification_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Notification:
    reply = await clients.notification.MarkNotificationRead(
        pb.MarkNotificationReadRequest(notification_id=notification_id)
    )
    return Notification.from_proto(reply.notification)
