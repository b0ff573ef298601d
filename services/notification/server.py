"""NotificationService over gRPC."""

from __future__ import annotations

import grpc

from counsel.common.v1 import paging_pb2
from counsel.notification.v1 import notification_service_pb2 as pb
from counsel.notification.v1.notification_service_pb2_grpc import (
    NotificationInternalServiceServicer,
    NotificationServiceServicer,
)
from services.notification.models import DeliveryRow, InboxEntryRow
from services.notification.policy import (
    DEFAULT_TIME_ZONE,
    Channel,
    Preferences,
    QuietHours,
    normalise_email,
    normalise_phone,
)
from services.notification.store import NotificationStores
from services.notification.store.preferences import PreferencesUpdate
from services.runtime.context import Principal, current_principal
from services.runtime.errors import InvalidArgument, PermissionDenied, Unauthenticated
from services.runtime.records import MAX_PAGE_SIZE, every_page, page_size, to_timestamp


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
        category=row.category,
    )


def preferences_proto(prefs: Preferences) -> pb.NotificationPreferences:
    quiet = prefs.quiet_hours
    return pb.NotificationPreferences(
        in_app=True,
        email=prefs.email,
        sms=prefs.sms,
        quiet_hours=pb.QuietHours(
            start=quiet.start.strftime("%H:%M"), end=quiet.end.strftime("%H:%M"), time_zone=quiet.time_zone
        )
        if quiet
        else None,
        marketing_consent=prefs.marketing_consent_at is not None,
        marketing_consent_at=to_timestamp(prefs.marketing_consent_at),
        language=prefs.language,
        email_address=prefs.email_address,
        phone=prefs.phone,
    )


def preferences_update(message: pb.NotificationPreferences) -> PreferencesUpdate:
    """Validates as it converts: InvalidArgument names the field (quiet_hours.start, phone, …)."""
    quiet = None
    if message.HasField("quiet_hours"):
        q = message.quiet_hours
        quiet = QuietHours.parse(q.start, q.end, q.time_zone or DEFAULT_TIME_ZONE)
    return PreferencesUpdate(
        email=message.email,
        sms=message.sms,
        quiet_hours=quiet,
        marketing_consent=message.marketing_consent,
        language=message.language or "zh",
        email_address=normalise_email(message.email_address),
        phone=normalise_phone(message.phone),
    )


def delivery_proto(row: DeliveryRow) -> pb.Delivery:
    return pb.Delivery(
        id=row.id,
        channel=row.channel,
        category=row.category,
        kind=row.kind,
        title=row.title,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=to_timestamp(row.created_at),
        next_attempt_at=to_timestamp(row.next_attempt_at),
        sent_at=to_timestamp(row.sent_at),
        digest_id=row.digest_id,
    )


def _signed_in() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthenticated("sign in to read notifications")
    return principal


class NotificationServicer(NotificationServiceServicer, NotificationInternalServiceServicer):
    def __init__(self, stores: NotificationStores, dev_outbox_enabled: bool) -> None:
        self.stores = stores
        self.dev_outbox_enabled = dev_outbox_enabled

    async def ListNotifications(
        self, request: pb.ListNotificationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListNotificationsResponse:
        principal = _signed_in()
        inbox = await self.stores.inbox.page(
            principal.user_id, request.unread_only, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListNotificationsResponse(
            notifications=[notification_proto(r) for r in inbox.entries],
            page=paging_pb2.PageResponse(next_cursor=inbox.next_cursor),
            unread_count=inbox.unread,
        )

    async def MarkNotificationRead(
        self, request: pb.MarkNotificationReadRequest, context: grpc.aio.ServicerContext
    ) -> pb.MarkNotificationReadResponse:
        row = await self.stores.inbox.mark_read(_signed_in().user_id, request.notification_id)
        return pb.MarkNotificationReadResponse(notification=notification_proto(row))

    async def ExportNotificationData(
        self, request: pb.ExportNotificationDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportNotificationDataResponse:
        user_id = _signed_in().user_id

        async def inbox_page(cursor: str) -> tuple[list[InboxEntryRow], str]:
            inbox = await self.stores.inbox.page(user_id, False, MAX_PAGE_SIZE, cursor)
            return inbox.entries, inbox.next_cursor

        notifications = await every_page(inbox_page)
        deliveries = await every_page(
            lambda cursor: self.stores.deliveries.page(user_id, MAX_PAGE_SIZE, cursor)
        )
        return pb.ExportNotificationDataResponse(
            notifications=[notification_proto(row) for row in notifications],
            deliveries=[delivery_proto(row) for row in deliveries],
            preferences=preferences_proto(await self.stores.preferences.get(user_id)),
        )

    async def ListDevOutbox(
        self, request: pb.ListDevOutboxRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDevOutboxResponse:
        if not self.dev_outbox_enabled:
            raise PermissionDenied("the dev outbox exists only in dev and test")
        rows = await self.stores.direct.newest_dev_messages(request.to, page_size(request.limit))
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

    async def GetPreferences(
        self, request: pb.GetPreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPreferencesResponse:
        prefs = await self.stores.preferences.get(_signed_in().user_id)
        return pb.GetPreferencesResponse(preferences=preferences_proto(prefs))

    async def UpdatePreferences(
        self, request: pb.UpdatePreferencesRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdatePreferencesResponse:
        user_id = _signed_in().user_id
        prefs = await self.stores.preferences.put(user_id, preferences_update(request.preferences))
        return pb.UpdatePreferencesResponse(preferences=preferences_proto(prefs))

    async def ListDeliveries(
        self, request: pb.ListDeliveriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDeliveriesResponse:
        rows, next_cursor = await self.stores.deliveries.page(
            _signed_in().user_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListDeliveriesResponse(
            deliveries=[delivery_proto(r) for r in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
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
            # Out through SMTP or the SMS provider now; without one it fails loudly (identity answers 503)
            # rather than leaving a code that silently never arrives.
            message_id = await self.stores.direct.send(
                Channel(request.channel),
                request.to,
                request.subject,
                request.body,
                request.template,
                dict(request.params),
            )
            return pb.SendDirectResponse(message_id=message_id)
        message_id = await self.stores.direct.record_dev_message(
            request.channel, request.to, request.subject if request.channel == "email" else "", request.body
        )
        return pb.SendDirectResponse(message_id=message_id)
