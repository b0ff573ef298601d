"""Delivery of one-time codes and invitations through the notification service (SendDirect)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

import grpc

from counsel.notification.v1 import notification_service_pb2 as notification_pb
from services.runtime.context import access_token_var
from services.runtime.errors import Unavailable

if TYPE_CHECKING:
    from counsel.notification.v1.notification_service_pb2_grpc import NotificationInternalServiceAsyncStub

log = logging.getLogger(__name__)

CHANNEL_OF_KIND = {"phone": "sms", "email": "email"}


class MessageSender(Protocol):
    async def send(
        self, kind: str, to: str, subject: str, body: str, *, template: str, params: Mapping[str, str]
    ) -> None:
        """Send a transactional message to a phone (kind "phone") or an e-mail address ("email").
        `template` (otp|invitation) and its `params` are what template-only SMS providers send."""


class NotificationSender:
    """Calls NotificationInternalService.SendDirect as the platform itself, never with the end user's token
    (SendDirect refuses user tokens: it is not an API for users)."""

    def __init__(self, stub: NotificationInternalServiceAsyncStub) -> None:
        self.stub = stub

    async def send(
        self, kind: str, to: str, subject: str, body: str, *, template: str, params: Mapping[str, str]
    ) -> None:
        token = access_token_var.set("")
        try:
            await self.stub.SendDirect(
                notification_pb.SendDirectRequest(
                    channel=CHANNEL_OF_KIND[kind],
                    to=to,
                    subject=subject,
                    body=body,
                    transactional=True,
                    template=template,
                    params=dict(params),
                )
            )
        except grpc.aio.AioRpcError as exc:
            # The recipient and the text are personal data: log the failure, not the message.
            log.warning("sending a %s message failed: %s", CHANNEL_OF_KIND[kind], exc.code().name)
            raise Unavailable("the message could not be sent; try again shortly") from exc
        finally:
            access_token_var.reset(token)
