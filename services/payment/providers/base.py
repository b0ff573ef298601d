"""The one interface every payment provider implements, and the RSA helpers of the bank provider (Alipay and
WeChat Pay sign and verify through their SDKs)."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

log = logging.getLogger(__name__)

# What a provider's report says about the money, in our words (Notification.status):
PAID = "paid"  # the provider holds the buyer's money for this payment
PENDING = "pending"  # nothing settled yet: waiting for the buyer, or in progress at the provider
CLOSED = "closed"  # the trade was closed (timed out, revoked) without money changing hands
FAILED = "failed"  # the buyer's payment failed
REFUNDED = "refunded"  # the money was received and has been sent back at the provider (outside counsel)
REPORTED_STATUSES = (PAID, PENDING, CLOSED, FAILED, REFUNDED)


def reported_status(provider: str, published: Mapping[str, str], raw: str) -> str:
    """The provider's status `raw` in our words, through the provider's published table. A status missing
    from the table (one the provider added since) is `pending`, which changes nothing: whether money moved is
    settled by the provider's later report or by the re-query before an order is given up — never guessed as
    closed, which would refuse the money when it arrives."""
    status = published.get(raw)
    if status is None:
        log.warning(
            "a provider status not in its published list", extra={"provider": provider, "status": raw[:40]}
        )
        return PENDING
    return status


class InvalidNotification(Exception):
    """A notification that is not provably from the provider (bad or missing signature, stale, garbled).
    Nothing may change because of it."""


class ProviderUnavailable(Exception):
    """The provider is not configured here, or cannot do this without its network API."""


@dataclass(frozen=True)
class Checkout:
    """Where the client pays: a redirect URL and/or the content of a QR code."""

    pay_url: str = ""
    qr_code: str = ""


@dataclass(frozen=True)
class Notification:
    """A verified notification. `status` is one of REPORTED_STATUSES (the provider's own status mapped
    through its published table); `amount_fen` is what the provider says was paid."""

    notification_id: str
    payment_id: str
    provider_txn_id: str
    amount_fen: int
    currency: str
    status: str


@dataclass(frozen=True)
class Ack:
    """The answer the provider expects once a notification is handled, so it stops retrying."""

    body: str
    content_type: str


class Provider(Protocol):
    name: str
    ack: Ack

    def checkout(
        self, payment_id: str, amount_fen: int, currency: str, subject: str, notify_url: str, now: datetime
    ) -> Checkout | Awaitable[Checkout]:
        """Where the client pays (awaitable when the provider's ordering API is called, e.g. WeChat Pay
        Native); ProviderUnavailable when this provider cannot take payments here."""
        ...

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        """The verified notification; InvalidNotification for anything not provably from the provider."""
        ...


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("expected an RSA private key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("expected an RSA public key")
    return key


def rsa_sha256_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 of an RSASSA-PKCS1-v1_5 SHA-256 signature (UnionPay signMethod 01)."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_sha256_verify(key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> None:
    """InvalidNotification unless `signature_b64` is a valid signature of `message` by `key`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (CryptoInvalidSignature, binascii.Error, ValueError) as exc:
        raise InvalidNotification("the signature does not verify") from exc


def sorted_params(params: Mapping[str, str], exclude: tuple[str, ...]) -> str:
    """`k=v&…` over the non-empty parameters sorted by name, the signing string UnionPay uses."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in exclude and params[k] != "")
