"""The caller's in-app inbox, its live stream, outbound deliveries and notification preferences."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import grpc
from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from counsel.common.v1 import paging_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.notification.v1 import events_pb2 as notification_events_pb2
from counsel.notification.v1 import notification_service_pb2 as pb
from services.gateway.clients import Clients
from services.gateway.deps import ClientsDep, CurrentPrincipal
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.notifications import (
    Delivery,
    DeliveryPage,
    Notification,
    NotificationPage,
    Preferences,
    PreferencesBody,
)
from services.gateway.wakeups import BusWaker
from services.runtime.context import access_token_var

log = logging.getLogger(__name__)

router = api_router("notifications")

# How often the stream asks the notification service for news when nothing wakes it: often without the
# event bus, rarely with it (then it is a heartbeat and a safety net). A heartbeat comment goes out as often.
STREAM_POLL_SECONDS = 2.0
STREAM_POLL_SECONDS_WITH_BUS = 20.0


class InboxWaker(BusWaker):
    """Wakes the open streams of a user when the notification service publishes `notification.sent` for
    their inbox (streams that are not open miss nothing, they read the inbox when they open). The payload
    carries ids only."""

    SUBJECT = "notification.notification.sent"
    CONNECTION_NAME = "counsel-gateway"
    WITHOUT_BUS = "no event bus for the inbox stream; streams poll instead"

    async def _on_event(self, msg: Msg) -> None:
        try:
            envelope = EventEnvelope.FromString(msg.data)
            sent = notification_events_pb2.NotificationSent()
            if envelope.payload.Unpack(sent) and sent.channel == "in_app":
                self.wake(sent.user_id)
        except DecodeError:
            log.warning("undecodable notification.sent event")


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


async def notification_events(
    clients: Clients,
    disconnected: Callable[[], Awaitable[bool]],
    poll_seconds: float = STREAM_POLL_SECONDS,
    woken: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    """Server-sent events for one signed-in caller: `unread` ({"unread_count"}) first and whenever the count
    changes, `notification` (an inbox entry) for each new entry, oldest first, and a heartbeat comment
    otherwise. The inbox is read again when `woken` is set (a new entry) or after `poll_seconds`. Ends when
    the client goes away or the token stops being accepted (it expires)."""
    seen: set[str] = set()
    unread: int | None = None
    first = True
    while not await disconnected():
        try:
            reply = await clients.notification.ListNotifications(
                pb.ListNotificationsRequest(page=paging_pb2.PageRequest(limit=20))
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                yield 'event: end\ndata: {"reason": "sign in again"}\n\n'
                return
            yield ": the inbox is unavailable; retrying\n\n"
        else:
            if reply.unread_count != unread:
                unread = reply.unread_count
                yield f"event: unread\ndata: {json.dumps({'unread_count': unread})}\n\n"
            fresh = [n for n in reply.notifications if n.id not in seen]
            seen.update(n.id for n in reply.notifications)
            if not first:  # what was there when the stream opened is in GET /api/v1/notifications
                for entry in reversed(fresh):
                    body = Notification.from_proto(entry).model_dump_json()
                    yield f"event: notification\nid: {entry.id}\ndata: {body}\n\n"
            first = False
            if not fresh:
                yield ": keep-alive\n\n"
        if woken is None:
            await asyncio.sleep(poll_seconds)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), poll_seconds)
            woken.clear()


@router.get(
    "/api/v1/notifications/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream_notifications(
    request: Request, principal: CurrentPrincipal, clients: ClientsDep
) -> StreamingResponse:
    """A live push of the caller's inbox over server-sent events (`unread`, `notification`)."""
    token = access_token_var.get()
    waker: InboxWaker | None = getattr(request.app.state, "inbox_waker", None)

    async def events() -> AsyncIterator[str]:
        access_token_var.set(token)  # the generator may run outside the request's context
        if waker is None:
            async for chunk in notification_events(clients, request.is_disconnected):
                yield chunk
            return
        with waker.watch(principal.user_id) as woken:
            async for chunk in notification_events(
                clients, request.is_disconnected, STREAM_POLL_SECONDS_WITH_BUS, woken
            ):
                yield chunk

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/v1/notifications/deliveries", response_model=DeliveryPage)
async def list_deliveries(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> DeliveryPage:
    """The caller's e-mails and SMS with status and attempts: failed sends are retried and shown here."""
    reply = await clients.notification.ListDeliveries(
        pb.ListDeliveriesRequest(page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return DeliveryPage(
        items=[Delivery.from_proto(d) for d in reply.deliveries], next_cursor=next_cursor(reply.page)
    )


@router.post("/api/v1/notifications/{notification_id}/read", response_model=Notification)
async def mark_read(notification_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Notification:
    reply = await clients.notification.MarkNotificationRead(
        pb.MarkNotificationReadRequest(notification_id=notification_id)
    )
    return Notification.from_proto(reply.notification)


@router.get("/api/v1/me/notification-preferences", response_model=Preferences)
async def get_preferences(principal: CurrentPrincipal, clients: ClientsDep) -> Preferences:
    reply = await clients.notification.GetPreferences(pb.GetPreferencesRequest())
    return Preferences.from_proto(reply.preferences)


@router.put("/api/v1/me/notification-preferences", response_model=Preferences)
async def put_preferences(
    body: PreferencesBody, principal: CurrentPrincipal, clients: ClientsDep
) -> Preferences:
    """Replace the caller's preferences: channels on/off, quiet hours, language, marketing consent (its
    time is recorded when first given) and the addresses e-mails and SMS go to."""
    reply = await clients.notification.UpdatePreferences(
        pb.UpdatePreferencesRequest(preferences=body.to_proto())
    )
    return Preferences.from_proto(reply.preferences)
