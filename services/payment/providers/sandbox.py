"""The sandbox provider: a local provider that behaves like a real one (dev and test). It has a pay page
(`POST /api/v1/dev/sandbox-pay/{payment_id}` stands for the customer paying), keeps its own records,
sends **signed** asynchronous notifications with retries, and answers queries. Its Ed25519 key is derived
from COUNSEL_SECRET_KEY; notifications carry `X-Sandbox-Signature` (Base64 Ed25519 over the raw body)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.payment.providers.base import (
    CLOSED,
    FAILED,
    PAID,
    PENDING,
    Ack,
    Checkout,
    InvalidNotification,
    Notification,
    reported_status,
)

SIGNATURE_HEADER = "x-sandbox-signature"
# The sandbox's published trade statuses: WAIT while the buyer has not paid, like a real provider's.
TRADE_STATUSES = {"WAIT": PENDING, "SUCCESS": PAID, "CLOSED": CLOSED, "FAILED": FAILED}


def sandbox_key(secret_key: str) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"counsel/sandbox-provider/v1").derive(
        secret_key.encode()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def notification_body(
    notify_id: str, payment_id: str, trade_no: str, amount_fen: int, currency: str, status: str, paid_at: str
) -> bytes:
    return json.dumps(
        {
            "notify_id": notify_id,
            "payment_id": payment_id,
            "trade_no": trade_no,
            "amount": amount_fen,
            "currency": currency,
            "status": status,
            "paid_at": paid_at,
        },
        separators=(",", ":"),
    ).encode()


class SandboxProvider:
    name = "sandbox"
    ack = Ack("OK", "text/plain; charset=utf-8")

    def __init__(self, key: Ed25519PrivateKey, pay_page_base: str) -> None:
        self._key = key
        self._public = key.public_key()
        self.pay_page_base = pay_page_base.rstrip("/")

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self._key.sign(body)).decode()

    def checkout(
        self, payment_id: str, amount_fen: int, currency: str, subject: str, notify_url: str, now: datetime
    ) -> Checkout:
        url = f"{self.pay_page_base}/api/v1/dev/sandbox-pay/{payment_id}"
        return Checkout(pay_url=url, qr_code=url)

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        try:
            self._public.verify(base64.b64decode(headers.get(SIGNATURE_HEADER, ""), validate=True), body)
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise InvalidNotification("the sandbox signature does not verify") from exc
        try:
            data = json.loads(body)
            return Notification(
                notification_id=str(data["notify_id"]),
                payment_id=str(data["payment_id"]),
                provider_txn_id=str(data["trade_no"]),
                amount_fen=int(data["amount"]),
                currency=str(data["currency"]),
                status=reported_status(self.name, TRADE_STATUSES, str(data["status"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidNotification("the notification is garbled") from exc
