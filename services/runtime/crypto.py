"""Encryption of personal fields at rest (R-PRIV-1) and blind indexes for exact-match lookups.

Both keys are derived from `COUNSEL_SECRET_KEY` with HKDF-SHA256 under separate labels, so the key that
encrypts never doubles as the key that indexes. Ciphertexts carry a key-version prefix (`v1:`) so the
secret can be rotated later by adding a version, without guessing which key sealed a stored value."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_VERSION = "v1"
MIN_SECRET_LENGTH = 16
_NONCE_BYTES = 12  # 96-bit nonces, random per value: safe far beyond the number of fields we will ever seal
_TAG_BYTES = 16
_ENCRYPTION_INFO = b"counsel/field-encryption/v1"
_BLIND_INDEX_INFO = b"counsel/blind-index/v1"


class SecretKeyError(ValueError):
    """The configured secret is missing or too short to derive keys from."""


class CipherError(ValueError):
    """A value this key did not encrypt, of an unknown key version, or altered since it was encrypted."""


def derive_key(secret: bytes, info: bytes) -> bytes:
    """A 32-byte key for one purpose (`info`, a label no other key uses) from `secret` (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class FieldCipher:
    """AES-256-GCM for personal fields and HMAC-SHA256 blind indexes, keyed from one secret.

    Raises SecretKeyError when `secret_key` is empty or shorter than MIN_SECRET_LENGTH characters."""

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise SecretKeyError(
                "COUNSEL_SECRET_KEY is not set: personal data cannot be encrypted without it"
            )
        if len(secret_key) < MIN_SECRET_LENGTH:
            raise SecretKeyError(f"COUNSEL_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters long")
        secret = secret_key.encode()
        self._aead = AESGCM(derive_key(secret, _ENCRYPTION_INFO))
        self._index_key = derive_key(secret, _BLIND_INDEX_INFO)

    def encrypt(self, plaintext: str) -> str:
        """`v1:<base64(nonce ‖ ciphertext ‖ tag)>`; a fresh nonce each call, so equal inputs differ."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), KEY_VERSION.encode())
        return f"{KEY_VERSION}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        """The plaintext of `encrypt`'s output; CipherError for anything else (never returns garbage)."""
        version, sep, body = token.partition(":")
        if not sep or version != KEY_VERSION:
            raise CipherError("unknown key version")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CipherError("the value is not valid base64") from exc
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise CipherError("the value is too short")
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], version.encode())
        except InvalidTag as exc:
            raise CipherError("the value was altered or sealed with another key") from exc
        return plain.decode()

    def blind_index(self, value: str) -> str:
        """Deterministic HMAC-SHA256 (hex) of `value` for exact-match lookups of an encrypted field.

        Normalise first (e.g. lower-case an e-mail): the index matches byte-for-byte equal input only."""
        return hmac.new(self._index_key, value.encode(), hashlib.sha256).hexdigest()


def address_index(cipher: FieldCipher, address: str) -> str:
    """The blind index of a phone number or an e-mail address as messages are sent to it: a mainland phone
    with or without +86, an e-mail in any case, index alike. Identity names an erased person's addresses by
    it (`user.erased`), notification keys what it captured for an address by it (docs/privacy.md)."""
    address = address.strip()
    digits = address.removeprefix("+86")
    canonical = digits if digits.isdigit() and len(digits) == 11 else address.lower()
    return cipher.blind_index(f"address:{canonical}")
