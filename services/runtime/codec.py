"""Workflow histories encrypted (R-PRIV-1, docs/privacy.md): the Temporal payload codec of every client and
worker (`connect_temporal`), so no workflow input, signal, update, activity argument or result reaches the
Temporal server — and so its database — in clear.

Each payload is sealed whole (its metadata too: the encoding says what type it held) with AES-256-GCM under
a key derived from a master key version; the key id (`master:<version>`) travels in the encrypted payload's
metadata. Rotation: a new current master version seals new payloads, and every version still configured
opens the old ones. A payload whose key id this process does not hold fails what decodes it with
`UnknownPayloadKey` — in a worker, that workflow task (Temporal retries it, the worker keeps running).

The codec key is the platform's, not a subject's: workflows carry ids, not case text (requirements and
revision instructions are read by reference), so erasing a subject needs nothing from the histories."""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from services.runtime.keys import KEY_BYTES, NONCE_BYTES, MasterKey, MasterKeyError

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
_INFO = b"counsel/temporal-payloads/v1"


class UnknownPayloadKey(ValueError):
    """A payload sealed with a key this process does not hold (a retired master version, another
    deployment's key) or altered since."""


def payload_key_id(version: str) -> str:
    return f"master:{version}"


class EncryptionCodec(PayloadCodec):
    """AES-256-GCM over each serialized payload, keyed per master key version."""

    def __init__(self, master: MasterKey) -> None:
        self._keys = {
            payload_key_id(version): AESGCM(
                HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=_INFO).derive(master.version(version))
            )
            for version in master.versions
        }
        self._current = payload_key_id(master.current)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        aead = self._keys[self._current]
        sealed = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            key_id = self._current.encode()
            sealed.append(
                Payload(
                    metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id},
                    data=nonce + aead.encrypt(nonce, payload.SerializeToString(), key_id),
                )
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """The payloads as encoded; ones not sealed by this codec (histories recorded before it, search
        attributes) pass unchanged. UnknownPayloadKey for a key id not held or an altered payload."""
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)
                continue
            key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
            aead = self._keys.get(key_id)
            if aead is None:
                raise UnknownPayloadKey(
                    f"payload sealed with key {key_id!r}, which this process does not hold "
                    f"(held: {', '.join(sorted(self._keys))}); configure that master key version"
                )
            try:
                plain = aead.decrypt(payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:], key_id.encode())
            except InvalidTag:
                raise UnknownPayloadKey(f"payload sealed with key {key_id!r} was altered") from None
            opened.append(Payload.FromString(plain))
        return opened


__all__ = ["EncryptionCodec", "MasterKeyError", "UnknownPayloadKey", "payload_key_id"]
