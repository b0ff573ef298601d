"""FieldCipher: AES-256-GCM round trips, tamper detection, key separation and blind indexes."""

from __future__ import annotations

import base64

import pytest

from services.runtime import crypto
from services.runtime.crypto import KEY_VERSION, CipherError, FieldCipher, SecretKeyError

SECRET = "unit-test-secret-key-0123456789abcdef"


def test_round_trip_including_unicode() -> None:
    cipher = FieldCipher(SECRET)
    for value in ["client@demo.counsel.test", "+8613800138000", "演示客户管理员", ""]:
        assert cipher.decrypt(cipher.encrypt(value)) == value


def test_ciphertext_is_versioned_and_never_repeats() -> None:
    cipher = FieldCipher(SECRET)
    first, second = cipher.encrypt("same"), cipher.encrypt("same")
    assert first.startswith(f"{KEY_VERSION}:")
    assert first != second  # a fresh 96-bit nonce each time
    assert "same" not in first
    assert len(base64.b64decode(first.split(":", 1)[1])) == 12 + len("same") + 16


def test_a_flipped_bit_is_detected() -> None:
    cipher = FieldCipher(SECRET)
    raw = bytearray(base64.b64decode(cipher.encrypt("client@demo.counsel.test").split(":", 1)[1]))
    raw[-1] ^= 0x01
    with pytest.raises(CipherError):
        cipher.decrypt(f"{KEY_VERSION}:{base64.b64encode(bytes(raw)).decode()}")


@pytest.mark.parametrize(
    "token", ["", "v1", "v1:", "v1:not base64!", "v1:AAAA", "v9:" + "A" * 40, "plain text"]
)
def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(CipherError):
        FieldCipher(SECRET).decrypt(token)


def test_another_secret_cannot_decrypt() -> None:
    sealed = FieldCipher(SECRET).encrypt("secret")
    with pytest.raises(CipherError):
        FieldCipher(SECRET + "-other").decrypt(sealed)


def test_blind_index_is_deterministic_and_keyed() -> None:
    cipher = FieldCipher(SECRET)
    index = cipher.blind_index("client@demo.counsel.test")
    assert index == FieldCipher(SECRET).blind_index("client@demo.counsel.test")
    assert len(index) == 64 and int(index, 16) >= 0
    assert index != cipher.blind_index("member@demo.counsel.test")
    assert index != FieldCipher(SECRET + "-other").blind_index("client@demo.counsel.test")


def test_blind_index_key_differs_from_the_encryption_key() -> None:
    # Separate HKDF labels: the index must not be a function of anything the AEAD key reveals.
    secret = SECRET.encode()
    assert crypto.derive_key(secret, crypto._ENCRYPTION_INFO) != crypto.derive_key(
        secret, crypto._BLIND_INDEX_INFO
    )
    assert FieldCipher(SECRET)._index_key == crypto.derive_key(secret, crypto._BLIND_INDEX_INFO)


@pytest.mark.parametrize("secret", ["", "short"])
def test_missing_or_short_secret_is_a_clear_error(secret: str) -> None:
    with pytest.raises(SecretKeyError, match="COUNSEL_SECRET_KEY"):
        FieldCipher(secret)
