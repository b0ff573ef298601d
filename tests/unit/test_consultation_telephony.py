"""The privacy-number adapter's pure parts: receipt reading (credential, pool, record shapes) and the
settings that choose it, which refuse to start the real provider without its account (R-CON-3). Its request
signature is Alibaba Cloud's, tested with the provider's worked example in test_notification_sms.py."""

from __future__ import annotations

import json

import pytest

from services.consultation.config import ConsultationSettings
from services.consultation.telephony import BadReceipt, SimulatedTelephony
from services.consultation.telephony_aliyun import AliyunNumberPrivacy, AliyunNumberPrivacyConfig
from services.runtime.config import SettingsError, load_settings

pytestmark = pytest.mark.unit

TOKEN = "receipt-token-0123456789abcdef"
CONFIG = AliyunNumberPrivacyConfig("ak", "secret", "FC100000097080001", TOKEN)


async def never_called(user_id: str) -> str:
    raise AssertionError("no phone is needed to read receipts")


async def test_receipts_are_read_only_with_the_deployments_token_and_pool() -> None:
    provider = AliyunNumberPrivacy(CONFIG, never_called)
    report = {
        "pool_key": CONFIG.pool_key,
        "sub_id": 1000043068030001,
        "out_id": "call-1",
        "call_id": "43612633712c0001",
        "start_time": "2026-12-06 20:11:38",
        "release_time": "2026-12-06 20:13:13",
        "record_url": "https://record.example/1.mp3",
    }
    body = json.dumps([report, {**report, "out_id": "", "call_id": "elsewhere"}]).encode()
    [receipt] = await provider.read_receipts("SecretReport", TOKEN, body)
    assert (receipt.call_id, receipt.report_id, receipt.talk_seconds, receipt.recording_ref) == (
        "call-1",
        "report:43612633712c0001",
        95,
        "https://record.example/1.mp3",
    )
    for message_type, token, pushed in [
        ("SecretReport", TOKEN[:-1] + "x", body),  # a forged URL
        ("SecretReport", "", body),
        ("SecretAsrReport", TOKEN, body),  # a type not read
        ("SecretReport", TOKEN, json.dumps([{**report, "pool_key": "FC-other"}]).encode()),
        ("SecretReport", TOKEN, b"not json"),
        ("SecretReport", TOKEN, json.dumps({"not": "a list"}).encode()),
        ("SecretReport", TOKEN, json.dumps([{**report, "release_time": "later"}]).encode()),
    ]:
        with pytest.raises(BadReceipt):
            await provider.read_receipts(message_type, token, pushed)
    with pytest.raises(BadReceipt):
        await SimulatedTelephony().read_receipts("SecretReport", TOKEN, body)


def test_the_real_provider_refuses_to_start_without_its_account() -> None:
    shared = load_settings(env="test")
    assert ConsultationSettings.from_settings(shared).telephony_provider == "simulated"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COUNSEL_TELEPHONY_PROVIDER", "aliyun_pls")
        env.setenv("COUNSEL_ALIYUN_PLS_ACCESS_KEY_ID", "ak")
        with pytest.raises(SettingsError) as refused:
            ConsultationSettings.from_settings(shared)
        message = str(refused.value)
        assert "COUNSEL_TELEPHONY_PROVIDER=aliyun_pls needs its account" in message
        assert "COUNSEL_ALIYUN_PLS_ACCESS_KEY_SECRET" in message and "COUNSEL_ALIYUN_PLS_POOL_KEY" in message
        assert "COUNSEL_ALIYUN_PLS_ACCESS_KEY_ID," not in message
        env.setenv("COUNSEL_ALIYUN_PLS_ACCESS_KEY_SECRET", "secret")
        env.setenv("COUNSEL_ALIYUN_PLS_POOL_KEY", "FC1")
        env.setenv("COUNSEL_ALIYUN_PLS_RECEIPT_TOKEN", "short")
        with pytest.raises(SettingsError, match="at least 24 characters"):
            ConsultationSettings.from_settings(shared)
        env.setenv("COUNSEL_ALIYUN_PLS_RECEIPT_TOKEN", TOKEN)
        env.setenv("COUNSEL_ALIYUN_PLS_API_URL", "http://127.0.0.1:1/")
        settings = ConsultationSettings.from_settings(shared)
        assert settings.aliyun_pls().api_url == "http://127.0.0.1:1/"  # a stand-in, outside prod
        prod = load_settings(env="prod", secret_key="k" * 40)
        with pytest.raises(SettingsError, match="COUNSEL_ALIYUN_PLS_API_URL"):
            ConsultationSettings.from_settings(prod)


def test_the_webrtc_ice_servers_are_a_list_of_stun_or_turn_servers() -> None:
    from services.gateway.config import GatewaySettings

    turn = '[{"urls": "turn:turn.counsel.test:3478", "username": "u", "credential": "c"}]'
    assert GatewaySettings(env="test", webrtc_ice_servers=turn).ice_servers()[0]["username"] == "u"
    assert GatewaySettings(env="test").ice_servers() == []
    for bad in ('{"urls": "stun:x"}', '[{"urls": "http://x"}]', "[{}]", "not json"):
        with pytest.raises(ValueError):
            GatewaySettings(env="test", webrtc_ice_servers=bad)
