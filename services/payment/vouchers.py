"""Digital vouchers (R-PAY-3): Ed25519-signed proof of purchase, verifiable by anyone with the code.

The code is `<voucher id>.<Base64url signature>`; the signature covers the voucher id, order, amount,
product and issue time as stored, so an altered code or an altered row no longer verifies."""

from __future__ import annotations

import base64
import binascii
import functools
import io
from datetime import datetime

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.payment.domain import canonical


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def voucher_payload(
    voucher_id: str, order_id: str, amount_fen: int, currency: str, product_id: str, issued_at: datetime
) -> bytes:
    return canonical(
        {
            "v": 1,
            "id": voucher_id,
            "order_id": order_id,
            "amount": amount_fen,
            "currency": currency,
            "product_id": product_id,
            "issued_at": issued_at.isoformat(),
        }
    ).encode()


class VoucherSigner:
    """Signs and verifies vouchers with an Ed25519 key derived from COUNSEL_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("COUNSEL_SECRET_KEY is needed to sign vouchers")
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"counsel/voucher/v1").derive(
            secret_key.encode()
        )
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key()

    def sign(self, payload: bytes) -> str:
        return _b64url(self._key.sign(payload))

    def verify(self, payload: bytes, signature: str) -> bool:
        try:
            self._public.verify(_unb64url(signature), payload)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def voucher_code(voucher_id: str, signature: str) -> str:
    return f"{voucher_id}.{signature}"


def split_code(code: str) -> tuple[str, str] | None:
    voucher_id, sep, signature = code.partition(".")
    if not sep or not voucher_id or not signature or len(code) > 200:
        return None
    return voucher_id, signature


@functools.lru_cache(maxsize=4096)
def qr_png(data: str) -> bytes:
    """A PNG of a QR code holding `data`. Drawing one takes ~35 ms of pure Python and a voucher's or a pending
    payment's QR is read on every refresh of its page, so the last few thousand are kept (~1 KB each)."""
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="png", scale=4, border=2)
    return out.getvalue()
