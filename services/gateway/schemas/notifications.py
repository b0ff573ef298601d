"""The in-app inbox and the development outbox as the public API shows them."""

from __future__ import annotations

from pydantic import BaseModel

from counsel.notification.v1 import notification_service_pb2 as pb
from services.gateway.schemas.common import or_none, rfc3339


class Notification(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    subject_type: str | None
    subject_id: str | None
    created_at: str | None
    read_at: str | None

    @classmethod
    def from_proto(cls, notification: pb.Notification) -> Notification:
        return cls(
            id=notification.id,
            kind=notification.kind,
            title=notification.title,
            body=notification.body,
            subject_type=or_none(notification.subject_type),
            subject_id=or_none(notification.subject_id),
            created_at=rfc3339(notification, "created_at"),
            read_at=rfc3339(notification, "read_at"),
        )


class NotificationPage(BaseModel):
    items: list[Notification]
    next_cursor: str | None
    unread_count: int


class DevMessage(BaseModel):
    channel: str
    to: str
    subject: str | None
    body: str
    created_at: str | None

    @classmethod
    def from_proto(cls, message: pb.DevMessage) -> DevMessage:
        return cls(
            channel=message.channel,
            to=message.to,
            subject=or_none(message.subject),
            body=message.body,
            created_at=rfc3339(message, "created_at"),
        )


class DevOutbox(BaseModel):
    items: list[DevMessage]
