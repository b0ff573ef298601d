"""The SMS provider client's pure parts: Alibaba Cloud's RPC signature v1 checked against the provider's own
published example, number forms, template choice, and which senders a configuration selects (R-ACC-1)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from services.notification.channels import (
    DevOutboxSender,
    SendError,
    SmtpSender,
    UnconfiguredSender,
    senders_for,
    unconfigured_channels,
)
from services.notification.config import NotificationSettings
from services.notification.dev_outbox import DevOutbox
from services.notification.policy import Channel
from services.notification.sms import AliyunSmsSender, parse_templates
from services.runtime.aliyun import aliyun_signature, aliyun_string_to_sign, percent_encode, provider_number
from services.runtime.crypto import FieldCipher

STRONG = "k" * 40
# Where the dev channels capture (never reached: these tests only pick the senders).
DEV_OUTBOX = DevOutbox(cast(Any, None), cast(Any, None), FieldCipher(STRONG))
ALIYUN = {
    "sms_provider": "aliyun",
    "sms_access_key_id": "testid",
    "sms_access_key_secret": "testsecret",
    "sms_sign_name": "律师助手",
    "sms_templates": json.dumps({"otp": "SMS_1", "default": "SMS_3"}),
}


def test_the_signature_matches_alibaba_clouds_published_example() -> None:
    # The worked example of Alibaba Cloud's "RPC signature" documentation (DescribeRegions, key testid /
    # secret testsecret): its string to sign and its signature.
    params = {
        "Timestamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert aliyun_string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
        "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
        "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
    )
    assert aliyun_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_percent_encoding_is_rfc_3986() -> None:
    assert percent_encode("a b*c~d/e+f") == "a%20b%2Ac~d%2Fe%2Bf"
    assert percent_encode("验证") == "%E9%AA%8C%E8%AF%81"


def test_a_signed_request_carries_every_parameter_of_send_sms() -> None:
    sender = AliyunSmsSender(NotificationSettings(env="prod", secret_key=STRONG, **ALIYUN))
    form = sender.request_params(
        "+8613912345678",
        "SMS_1",
        {"code": "123456"},
        nonce="n1",
        timestamp=datetime(2026, 11, 29, 4, 5, 6, tzinfo=UTC),
    )
    assert form["PhoneNumbers"] == "13912345678"
    assert form["Timestamp"] == "2026-11-29T04:05:06Z"
    assert form["TemplateParam"] == '{"code":"123456"}'
    assert (form["Action"], form["Version"], form["SignatureVersion"]) == ("SendSms", "2017-05-25", "1.0")
    assert form["Signature"] == aliyun_signature("POST", form, "testsecret")


def test_numbers_are_sent_in_the_providers_form() -> None:
    assert provider_number("+86 139 1234 5678") == "13912345678"
    assert provider_number("13912345678") == "13912345678"
    assert provider_number("+85291234567") == "85291234567"


def test_a_message_uses_its_own_template_or_the_default_one() -> None:
    sender = AliyunSmsSender(NotificationSettings(env="prod", secret_key=STRONG, **ALIYUN))
    assert sender.template_for("otp", {"code": "123456"}, "text") == ("SMS_1", {"code": "123456"})
    # No invitation template configured: the default one carries the whole text.
    assert sender.template_for("invitation", {"enterprise": "甲", "role": "client"}, "text") == (
        "SMS_3",
        {"content": "text"},
    )
    only_otp = AliyunSmsSender(
        NotificationSettings(
            env="prod",
            secret_key=STRONG,
            **{**ALIYUN, "sms_templates": '{"otp": "SMS_1"}'},
        )
    )
    with pytest.raises(SendError) as missing:
        only_otp.template_for("", {}, "您的咨询已回复")
    assert missing.value.permanent


def test_templates_must_be_a_mapping_of_known_kinds() -> None:
    assert parse_templates("") == {}
    for bad in ('["SMS_1"]', '{"otp": ""}', '{"marketing": "SMS_9"}'):
        with pytest.raises(ValueError):
            parse_templates(bad)


def test_the_configuration_selects_the_senders() -> None:
    dev = senders_for(NotificationSettings(env="dev"), DEV_OUTBOX)
    assert all(isinstance(s, DevOutboxSender) for s in dev.values()) and not unconfigured_channels(dev)

    bare = senders_for(NotificationSettings(env="prod", secret_key=STRONG), DEV_OUTBOX)
    assert unconfigured_channels(bare) == [Channel.EMAIL, Channel.SMS]
    assert all(isinstance(s, UnconfiguredSender) for s in bare.values())

    real = senders_for(
        NotificationSettings(env="prod", secret_key=STRONG, smtp_host="mail.example", **ALIYUN), DEV_OUTBOX
    )
    assert isinstance(real[Channel.EMAIL], SmtpSender) and isinstance(real[Channel.SMS], AliyunSmsSender)
    assert unconfigured_channels(real) == []


def test_an_unknown_or_half_configured_provider_fails_at_start() -> None:
    with pytest.raises(ValueError, match="not one of"):
        senders_for(
            NotificationSettings(env="prod", secret_key=STRONG, sms_provider="carrier-pigeon"), DEV_OUTBOX
        )
    with pytest.raises(ValueError, match="COUNSEL_SMS_ACCESS_KEY_SECRET"):
        senders_for(
            NotificationSettings(env="prod", secret_key=STRONG, **{**ALIYUN, "sms_access_key_secret": ""}),
            DEV_OUTBOX,
        )
