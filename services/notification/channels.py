"""Outbound channels: e-mail over SMTP (a real client), SMS through a provider (services/notification/sms.py),
and the dev outbox.

A sender raises `SendError` on failure, `permanent=True` when retrying cannot help (the server refused the
recipient for good, 5xx); the dispatcher then retries with backoff or falls back to the inbox. Senders never
log addresses or message text (personal data)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from sqlmodel.ext.asyncio.session import AsyncSession

from services.notification.config import NotificationSettings
from services.notification.dev_outbox import DevOutbox
from services.notification.policy import Channel

log = logging.getLogger(__name__)


class SendError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    async def send(
        self,
        session: AsyncSession,
        to: str,
        subject: str,
        body: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        """Send one message; raises SendError. `session` is the dispatcher's transaction (the dev outbox
        writes into it). `template` (otp|invitation|"") and `params` let template-only SMS providers send it;
        other channels send `subject` and `body`."""


class SmtpSender:
    """E-mail through an SMTP server (aiosmtplib)."""

    def __init__(self, settings: NotificationSettings) -> None:
        self.settings = settings

    async def send(
        self,
        session: AsyncSession,
        to: str,
        subject: str,
        body: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                timeout=self.settings.smtp_timeout_seconds,
                start_tls=self.settings.smtp_starttls,
                username=self.settings.smtp_username or None,
                password=self.settings.smtp_password.get_secret_value() or None,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [error.code for error in exc.recipients]
            raise SendError(f"recipient refused ({codes})", permanent=all(c >= 500 for c in codes)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendError(f"SMTP {exc.code}", permanent=exc.code >= 500) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SendError(f"SMTP unavailable: {type(exc).__name__}") from exc


class DevOutboxSender:
    """Dev and test: the message is captured in the dev outbox (GET /api/v1/dev/outbox) instead of sent."""

    def __init__(self, channel: Channel, outbox: DevOutbox) -> None:
        self.channel = channel
        self.outbox = outbox

    async def send(
        self,
        session: AsyncSession,
        to: str,
        subject: str,
        body: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        if self.channel is Channel.SMS and subject:  # an SMS has no subject line: the title leads the text
            body = f"{subject}\n{body}"
        await self.outbox.record(
            session, self.channel.value, to, subject if self.channel is Channel.EMAIL else "", body
        )


class UnconfiguredSender:
    """A channel with no provider configured (prod without SMTP host or SMS provider): every send fails for
    good, so deliveries fall back to the inbox instead of being lost."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel

    async def send(
        self,
        session: AsyncSession,
        to: str,
        subject: str,
        body: str,
        *,
        template: str = "",
        params: Mapping[str, str] | None = None,
    ) -> None:
        raise SendError(f"no {self.channel.value} provider is configured", permanent=True)


def senders_for(settings: NotificationSettings, dev_outbox: DevOutbox | None) -> dict[Channel, Sender]:
    """E-mail over SMTP when `COUNSEL_SMTP_HOST` is set, else `dev_outbox` (dev/test). SMS through
    `COUNSEL_SMS_PROVIDER` when set, else `dev_outbox` (dev/test). Outside dev/test a channel without a
    provider gets an UnconfiguredSender (see `unconfigured_channels`). ValueError for an unknown or
    incompletely configured provider, so a service fails at start rather than at the first code."""
    # Imported here: the providers raise this module's SendError.
    from services.notification.sms import AliyunSmsSender

    dev = dev_outbox if settings.dev_routes else None
    email: Sender
    if settings.smtp_host:
        email = SmtpSender(settings)
    elif dev is not None:
        email = DevOutboxSender(Channel.EMAIL, dev)
    else:
        email = UnconfiguredSender(Channel.EMAIL)
    sms: Sender
    if settings.sms_provider == "aliyun":
        sms = AliyunSmsSender(settings)
    elif settings.sms_provider:
        raise ValueError(f"COUNSEL_SMS_PROVIDER={settings.sms_provider!r} is not one of: aliyun")
    elif dev is not None:
        sms = DevOutboxSender(Channel.SMS, dev)
    else:
        sms = UnconfiguredSender(Channel.SMS)
    return {Channel.EMAIL: email, Channel.SMS: sms}


def unconfigured_channels(senders: Mapping[Channel, Sender]) -> list[Channel]:
    """The channels that cannot send (no provider configured outside dev/test)."""
    return [channel for channel, sender in senders.items() if isinstance(sender, UnconfiguredSender)]
