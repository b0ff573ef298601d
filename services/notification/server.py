"""NotificationService over gRPC."""

from __future__ import annotations

import grpc

from counsel.common.v1 import paging_pb2
from counsel.notification.v1 import notification_service_pb2 as pb
from counsel.notification.v1.notification_service_pb2_grpc import NotificationServiceServicer
from services.notification.models import InboxEntryRow
from services.notification.store import NotificationStore
from services.runtime.context import Principal, current_principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, Unauthenticated
from services.runtime.records import page_size, to_timestamp


def notification_proto(row: InboxEntryRow) -> pb.Notification:
    return pb.Notification(
        id=row.id,
        user_id=row.user_id,
        kind=row.kind,
        title=row.title,
        body=row.body,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        event_id=row.event_id,
        created_at=to_timestamp(row.created_at),
        read_at=to_timestamp(row.read_at),
    )


def _signed_in() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthenticated("sign in to read notifications")
    return principal


class NotificationServicer(NotificationServiceServicer):
    def __init__(self, store: NotificationStore, dev_outbox_enabled: bool) -> None:
        self.store = store
        self.dev_outbox_enabled = dev_outbox_enabled

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNotificationsResponse:
        principal = _signed_in()
        rows, next_cursor, unread = await self.store.inbox(
            principal.user_id, request.unread_only, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListNotificationsResponse(
            notifications=[notification_proto(r) for r in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
            unread_count=unread,
        )

    async def MarkNotificationRead(
        self, request: pb.MarkNotificationReadRequest, context: grpc.aio.ServicerContext
    ) -> pb.MarkNotificationReadResponse:
        row = await self.store.mark_read(_signed_in().user_id, request.notification_id)
        return pb.MarkNotificationReadResponse(notification=notification_proto(row))

    async def ListDevOutbox(
        self, request: pb.ListDevOutboxRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDevOutboxResponse:
        if not self.dev_outbox_enabled:
            raise PermissionDenied("the dev outbox exists only in dev and test")
        rows = await self.store.dev_outbox(request.to, page_size(request.limit))
        return pb.ListDevOutboxResponse(
            messages=[
                pb.DevMessage(
                    id=r.id,
                    channel=r.channel,
                    to=r.to,
                    subject=r.subject,
                    body=r.body,
                    created_at=to_timestamp(r.created_at),
                )
                for r in rows
            ]
        )

    async def SendDirect(
        self, request: pb.SendDirectRequest, context: grpc.aio.ServicerContext
    ) -> pb.SendDirectResponse:
        """Internal only (identity's codes and invitations): a call carrying a user's token is refused."""
        if current_principal() is not None:
            raise PermissionDenied("SendDirect is for platform services, not for users")
        if request.channel not in ("sms", "email"):
            raise InvalidArgument.for_field("channel", "must be sms or email")
        if not request.to or not request.body:
            raise InvalidArgument.for_field("to" if not request.to else "body", "must not be empty")
        if not self.dev_outbox_enabled:
            # No SMS or e-mail provider is wired yet; failing loudly beats a code that silently never arrives.
            raise Conflict("no SMS or e-mail provider is configured", reason="no_provider")
        message_id = await self.store.record_dev_message(
            request.channel, request.to, request.subject if request.channel == "email" else "", request.body
        )
        return pb.SendDirectResponse(message_id=message_id)
