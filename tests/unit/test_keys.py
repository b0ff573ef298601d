"""The key hierarchy without a database: master keys from the environment or a mounted secret, fields bound
to their subject and name, and the Temporal payload codec (key id in the metadata, rotation)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from services.runtime.codec import KEY_ID_METADATA, EncryptionCodec, UnknownPayloadKey
from services.runtime.config import load_settings
from services.runtime.keys import (
    KeyDestroyed,
    MasterKeyError,
    SealError,
    SubjectCipher,
    local_master_key,
    master_key,
    mounted_master_key,
)


def _b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_the_first_listed_version_is_current_and_every_listed_one_opens() -> None:
    master = local_master_key(f"v2={_b64key()}, v1={_b64key()}")
    assert master.current == "v2"
    assert master.versions == ("v2", "v1")
    with pytest.raises(MasterKeyError, match="'v0' is not configured"):
        master.version("v0")


@pytest.mark.parametrize("value", ["", "v1", "v1=short", f"={_b64key()}", "v1=!!!notbase64!!!"])
def test_a_malformed_master_key_is_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(MasterKeyError, match="COUNSEL_MASTER_KEY"):
        local_master_key(value)


def test_a_mounted_secret_names_its_current_version(tmp_path: Path) -> None:
    (tmp_path / "v1").write_text(_b64key())
    (tmp_path / "v2").write_text(_b64key() + "\n")
    (tmp_path / "current").write_text("v2\n")
    master = mounted_master_key(tmp_path)
    assert master.current == "v2"
    assert set(master.versions) == {"v1", "v2"}
    (tmp_path / "current").write_text("v3")
    with pytest.raises(MasterKeyError, match="'v3'"):
        mounted_master_key(tmp_path)


def test_prod_without_a_master_key_stops_with_a_clear_message() -> None:
    settings = load_settings(env="prod", secret_key="p" * 40)
    with pytest.raises(MasterKeyError, match=r"COUNSEL_MASTER_KEY .* must hold the master key"):
        master_key(settings)
    dev = master_key(load_settings(env="test", secret_key="t" * 40))
    assert dev.current == "dev"  # outside prod: derived from COUNSEL_SECRET_KEY, stable across restarts
    assert dev.version("dev") == master_key(load_settings(env="test", secret_key="t" * 40)).version("dev")


def test_a_sealed_field_opens_only_for_its_subject_and_field() -> None:
    key = os.urandom(32)
    alice = SubjectCipher("tenant:a", key)
    sealed = alice.seal("orders.requirements.facts", "合同纠纷 marker-7f3a")
    assert sealed.startswith("dk1:") and "marker" not in sealed
    assert alice.seal("orders.requirements.facts", "same") != alice.seal("orders.requirements.facts", "same")
    assert alice.open("orders.requirements.facts", sealed) == "合同纠纷 marker-7f3a"
    with pytest.raises(SealError):
        alice.open("orders.invoice_title", sealed)  # moved to another column
    with pytest.raises(SealError):
        SubjectCipher("tenant:b", key).open("orders.requirements.facts", sealed)  # moved to another tenant
    with pytest.raises(SealError):
        alice.open("orders.requirements.facts", "plain text")
    assert alice.seal("f", "") == "" and alice.open("f", "") == ""


def test_a_shredded_subject_opens_and_seals_nothing() -> None:
    sealed = SubjectCipher("user:u", os.urandom(32)).seal("users.email", "a@example.cn")
    shredded = SubjectCipher("user:u", None)
    with pytest.raises(KeyDestroyed):
        shredded.open("users.email", sealed)
    with pytest.raises(KeyDestroyed):
        shredded.seal("users.email", "a@example.cn")
    assert shredded.open_or("users.email", sealed, "[已删除]") == "[已删除]"


async def test_payloads_are_sealed_with_their_key_id_and_old_ids_still_decode() -> None:
    v1 = _b64key()
    before = EncryptionCodec(local_master_key(f"v1={v1}"))
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"question": "marker-7f3a"}')
    [sealed] = await before.encode([payload])
    assert sealed.metadata[KEY_ID_METADATA] == b"master:v1"
    assert b"marker" not in sealed.data and b"json/plain" not in sealed.SerializeToString()
    rotated = EncryptionCodec(local_master_key(f"v2={_b64key()},v1={v1}"))
    assert await rotated.decode([sealed]) == [payload]
    [resealed] = await rotated.encode([payload])
    assert resealed.metadata[KEY_ID_METADATA] == b"master:v2"


async def test_an_unknown_key_id_or_an_altered_payload_is_a_clear_error() -> None:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b"{}")
    [sealed] = await EncryptionCodec(local_master_key(f"v9={_b64key()}")).encode([payload])
    codec = EncryptionCodec(local_master_key(f"v1={_b64key()}"))
    with pytest.raises(UnknownPayloadKey, match="'master:v9', which this process does not hold"):
        await codec.decode([sealed])
    [own] = await codec.encode([payload])
    own.data = own.data[:-1] + bytes([own.data[-1] ^ 1])
    with pytest.raises(UnknownPayloadKey, match="altered"):
        await codec.decode([own])


async def test_payloads_recorded_before_the_codec_pass_through() -> None:
    codec = EncryptionCodec(local_master_key(f"v1={_b64key()}"))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"recorded"')
    assert await codec.decode([plain]) == [plain]
