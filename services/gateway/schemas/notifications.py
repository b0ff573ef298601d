"""The in-app inbox and the development outbox as the public API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.notification.v1 import notification_service_pb2 as pb
from services.gateway.schemas.common import RequestModel, or_none, rfc3339


class Notification(BaseModel):
    id: str
    kind: str
    title: str
    body: str
    subject_type: str | None
    subject_id: str | None
    created_at: str | None
    read_at: str | None
    category: str = Field(
        default="status", description="transactional (never held back or dropped) | status | marketing"
    )

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
            category=notification.category or "status",
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


# --- preferences (R-PRIV-2) ---------------------------------------------------------------------------


class QuietHoursBody(RequestModel):
    start: str = Field(max_length=5, description="HH:MM (24 h) in `time_zone`, e.g. 22:00.")
    end: str = Field(max_length=5, description="HH:MM; earlier than `start` wraps midnight, e.g. 08:00.")
    time_zone: str = Field(default="Asia/Shanghai", max_length=64, description="IANA time zone.")


class ChannelsBody(RequestModel):
    in_app: Literal[True] = Field(
        default=True, description="The inbox keeps every notification; it cannot be turned off."
    )
    email: bool
    sms: bool


class PreferencesBody(RequestModel):
    """The whole set of preferences (PUT replaces them): an omitted `quiet_hours` means none, an omitted
    `marketing_consent` means no consent."""

    channels: ChannelsBody
    quiet_hours: QuietHoursBody | None = None
    marketing_consent: bool = False
    language: Literal["zh", "en"] = "zh"
    email_address: str | None = Field(default=None, max_length=320, description="Where e-mails go.")
    phone: str | None = Field(
        default=None, max_length=20, description="Mainland mobile for SMS, +86 optional."
    )

    def to_proto(self) -> pb.NotificationPreferences:
        quiet = self.quiet_hours
        return pb.NotificationPreferences(
            in_app=True,
            email=self.channels.email,
            sms=self.channels.sms,
            quiet_hours=pb.QuietHours(start=quiet.start, end=quiet.end, time_zone=quiet.time_zone)
            if quiet
            else None,
            marketing_consent=self.marketing_consent,
            language=self.language,
            email_address=self.email_address or "",
            phone=self.phone or "",
        )


class Channels(BaseModel):
    in_app: bool
    email: bool
    sms: bool


class QuietHours(BaseModel):
    start: str
    end: str
    time_zone: str


class Preferences(BaseModel):
    channels: Channels
    quiet_hours: QuietHours | None
    marketing_consent: bool
    marketing_consent_at: str | None = Field(
        description="When consent was given (recorded); null without it."
    )
    language: str
    email_address: str | None
    phone: str | None

    @classmethod
    def from_proto(cls, prefs: pb.NotificationPreferences) -> Preferences:
        quiet = prefs.quiet_hours if prefs.HasField("quiet_hours") else None
        return cls(
            channels=Channels(in_app=True, email=prefs.email, sms=prefs.sms),
            quiet_hours=QuietHours(start=quiet.start, end=quiet.end, time_zone=quiet.time_zone)
            if quiet
            else None,
            marketing_consent=prefs.marketing_consent,
            marketing_consent_at=rfc3339(prefs, "marketing_consent_at"),
            language=prefs.language,
            email_address=or_none(prefs.email_address),
            phone=or_none(prefs.phone),
        )


class Delivery(BaseModel):
    id: str
    channel: str
    category: str
    kind: str
    title: str
    status: str = Field(description="queued|ready|sent|digested|fell_back|cancelled")
    attempts: int
    last_error: str | None
    created_at: str | None
    next_attempt_at: str | None
    sent_at: str | None
    digest_id: str | None

    @classmethod
    def from_proto(cls, delivery: pb.Delivery) -> Delivery:
        return cls(
            id=delivery.id,
            channel=delivery.channel,
            category=delivery.category,
            kind=delivery.kind,
            title=delivery.title,
            status=delivery.status,
            attempts=delivery.attempts,
            last_error=or_none(delivery.last_error),
            created_at=rfc3339(delivery, "created_at"),
            next_attempt_at=rfc3339(delivery, "next_attempt_at"),
            sent_at=rfc3339(delivery, "sent_at"),
            digest_id=or_none(delivery.digest_id),
        )


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None
