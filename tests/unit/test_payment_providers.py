"""Each provider's real signing and verification code with locally generated keys (R-PAY-1, R-PAY-2):
a valid notification verifies, a tampered one or one signed with the wrong key is refused."""

from __future__ import annotations

import base64
import io
import json
import socket
import zipfile
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.payment.providers import alipay, bank, wechat
from services.payment.providers.base import (
    InvalidNotification,
    load_public_key,
    rsa_sha256_verify,
)
from services.payment.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, notification_body
from tests.support.fake_providers import (
    alipay_bill_gateway,
    alipay_request_verifies,
    alipay_sign_notification,
    alipay_sign_response,
    alipay_trade_bill,
    rsa_pair,
    wechat_encrypt_resource,
    wechat_sign,
)

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[str, str]]:
    return {name: rsa_pair() for name in ("merchant", "provider", "other")}


# -- Alipay ---------------------------------------------------------------------------------------
def alipay_notification(private_pem: str, trade_status: str = "TRADE_SUCCESS", **overrides: str) -> bytes:
    """A notification signed by `private_pem`; `overrides` are applied after signing (tampering)."""
    params = {
        "notify_id": "ntf-1",
        "notify_time": "2026-11-29 16:00:00",
        "app_id": "2021000000000001",
        "out_trade_no": "pay-1",
        "trade_no": "2026112922001",
        "total_amount": "999.00",
        "trade_status": trade_status,
        "subject": "合同审查",
        "charset": "utf-8",
    }
    params["sign"] = alipay_sign_notification(params, private_pem)
    params["sign_type"] = "RSA2"
    params.update(overrides)
    return urlencode(params).encode()


def alipay_provider(keys: dict[str, tuple[str, str]]) -> alipay.AlipayProvider:
    return alipay.AlipayProvider(
        alipay.AlipayConfig("2021000000000001", keys["merchant"][0], keys["provider"][1])
    )


def test_alipay_rsa2_notification_verifies_and_reads_the_amount_in_fen(keys) -> None:
    note = alipay_provider(keys).parse_notification({}, alipay_notification(keys["provider"][0]), NOW)
    assert (note.payment_id, note.amount_fen, note.status, note.notification_id) == (
        "pay-1",
        99900,
        "paid",
        "ntf-1",
    )


def test_alipay_tampered_amount_or_wrong_key_is_refused(keys) -> None:
    provider = alipay_provider(keys)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, alipay_notification(keys["provider"][0], total_amount="0.01"), NOW)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, alipay_notification(keys["other"][0]), NOW)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, alipay_notification(keys["provider"][0], sign=""), NOW)


def test_alipay_page_pay_request_is_signed_with_the_merchant_key(keys) -> None:
    checkout = alipay_provider(keys).checkout("pay-1", 99900, "CNY", "合同审查", "https://x/notify", NOW)
    params = dict(parse_qsl(urlsplit(checkout.pay_url).query))
    assert params["method"] == "alipay.trade.page.pay"
    assert json.loads(params["biz_content"])["total_amount"] == "999.00"
    assert params["sign_type"] == "RSA2" and params["notify_url"] == "https://x/notify"
    assert alipay_request_verifies(params, keys["merchant"][1])
    assert not alipay_request_verifies(params | {"notify_url": "https://evil/notify"}, keys["merchant"][1])


def test_alipay_notification_of_another_sign_type_app_or_garbled_signature_is_refused(keys) -> None:
    provider = alipay_provider(keys)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, alipay_notification(keys["provider"][0], sign_type="RSA"), NOW)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, alipay_notification(keys["provider"][0], sign="@@not base64@@"), NOW)
    other_app = alipay.AlipayProvider(
        alipay.AlipayConfig("2021000000000002", keys["merchant"][0], keys["provider"][1])
    )
    with pytest.raises(InvalidNotification):
        other_app.parse_notification({}, alipay_notification(keys["provider"][0]), NOW)


def test_alipay_requests_carry_beijing_time_and_keys_that_do_not_load_are_named_at_start(keys) -> None:
    checkout = alipay_provider(keys).checkout("pay-1", 1, "CNY", "s", "https://x/notify", NOW)
    assert dict(parse_qsl(urlsplit(checkout.pay_url).query))["timestamp"] == "2026-11-29 16:00:00"
    with pytest.raises(ValueError):
        alipay.AlipayProvider(alipay.AlipayConfig("app-1", "", keys["provider"][1]))
    with pytest.raises(ValueError):
        alipay.AlipayProvider(alipay.AlipayConfig("app-1", keys["merchant"][0], "not a key"))


# -- WeChat Pay API v3 ----------------------------------------------------------------------------
API_V3_KEY = "0123456789abcdef0123456789abcdef"


def wechat_callback(
    private_pem: str, *, total: int = 99900, key: str = API_V3_KEY, trade_state: str = "SUCCESS"
) -> tuple[dict[str, str], bytes]:
    resource = json.dumps(
        {
            "mchid": "1900000001",
            "out_trade_no": "pay-2",
            "transaction_id": "4200000001",
            "trade_state": trade_state,
            "amount": {"total": total, "payer_total": total, "currency": "CNY"},
        }
    ).encode()
    body = json.dumps(
        {
            "id": "evt-1",
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": wechat_encrypt_resource(key, resource, "nonce1234567", "transaction"),
                "nonce": "nonce1234567",
                "associated_data": "transaction",
            },
        }
    ).encode()
    timestamp, nonce = str(int(NOW.timestamp())), "n0nce"
    headers = {
        "wechatpay-timestamp": timestamp,
        "wechatpay-nonce": nonce,
        "wechatpay-serial": "SERIAL1",
        "wechatpay-signature": wechat_sign(private_pem, timestamp, nonce, body),
        "wechatpay-signature-type": "WECHATPAY2-SHA256-RSA2048",
    }
    return headers, body


def wechat_provider(keys) -> wechat.WechatProvider:
    return wechat.WechatProvider(
        wechat.WechatConfig("1900000001", API_V3_KEY, {"SERIAL1": keys["provider"][1]})
    )


def test_wechat_v3_callback_verifies_and_decrypts(keys) -> None:
    headers, body = wechat_callback(keys["provider"][0])
    note = wechat_provider(keys).parse_notification(headers, body, NOW)
    assert (note.payment_id, note.amount_fen, note.status, note.provider_txn_id) == (
        "pay-2",
        99900,
        "paid",
        "4200000001",
    )


def test_wechat_tampered_body_wrong_key_stale_or_wrong_aes_key_is_refused(keys) -> None:
    provider = wechat_provider(keys)
    headers, body = wechat_callback(keys["provider"][0])
    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers, body.replace(b"evt-1", b"evt-2"), NOW)
    other_headers, other_body = wechat_callback(keys["other"][0])
    with pytest.raises(InvalidNotification):
        provider.parse_notification(other_headers, other_body, NOW)
    with pytest.raises(InvalidNotification):  # replayed ten minutes later
        provider.parse_notification(headers, body, NOW.replace(minute=10))
    bad_headers, bad_body = wechat_callback(keys["provider"][0], key="f" * 32)
    with pytest.raises(InvalidNotification):
        provider.parse_notification(bad_headers, bad_body, NOW)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Any attempt to open a network connection is recorded and refused."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_the_wechat_sdk_is_built_and_used_offline_in_public_key_mode(keys, offline) -> None:
    """wechatpayv3 downloads platform certificates when it has no WeChat Pay public key, and when a message
    names a key id it does not hold: neither happens, an unknown key id is refused before the SDK sees it."""
    provider = wechat_provider(keys)
    headers, body = wechat_callback(keys["provider"][0])
    assert provider.parse_notification(headers, body, NOW).payment_id == "pay-2"
    for serial in ("SERIAL2", "not-hex!", ""):
        with pytest.raises(InvalidNotification):
            provider.parse_notification(headers | {"wechatpay-serial": serial}, body, NOW)
    with pytest.raises(InvalidNotification):  # only the v3 algorithm is taken
        provider.parse_notification(
            headers | {"wechatpay-signature-type": "WECHATPAY2-SM2-WITH-SM3"}, body, NOW
        )
    no_type = {k: v for k, v in headers.items() if k != "wechatpay-signature-type"}
    with pytest.raises(InvalidNotification):
        provider.parse_notification(no_type, body, NOW)
    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers | {"wechatpay-signature": "%%%"}, body, NOW)
    assert offline == []


def test_wechat_callback_for_another_merchant_or_not_encrypted_is_refused(keys) -> None:
    provider = wechat.WechatProvider(
        wechat.WechatConfig("1900000002", API_V3_KEY, {"SERIAL1": keys["provider"][1]})
    )
    headers, body = wechat_callback(keys["provider"][0])
    with pytest.raises(InvalidNotification):
        provider.parse_notification(headers, body, NOW)
    plain = json.loads(body) | {"resource_type": "plain"}
    plain_body = json.dumps(plain).encode()
    signed = headers | {
        "wechatpay-signature": wechat_sign(
            keys["provider"][0], headers["wechatpay-timestamp"], "n0nce", plain_body
        )
    }
    with pytest.raises(InvalidNotification):
        wechat_provider(keys).parse_notification(signed, plain_body, NOW)


def test_wechat_keys_that_do_not_load_are_named_at_start(keys) -> None:
    with pytest.raises(ValueError):
        wechat.WechatProvider(wechat.WechatConfig("1900000001", API_V3_KEY, {"SERIAL1": "not a key"}))
    with pytest.raises(ValueError):
        wechat.WechatProvider(wechat.WechatConfig("1900000001", "short", {"SERIAL1": keys["provider"][1]}))


# -- online banking -------------------------------------------------------------------------------
def bank_notification(private_pem: str, resp_code: str = "00", **overrides: str) -> bytes:
    """A notification signed by `private_pem`; `overrides` are applied after signing (tampering)."""
    params = {
        "version": "5.1.0",
        "encoding": "UTF-8",
        "signMethod": "01",
        "merId": "777290058110048",
        "orderId": "pay-3",
        "queryId": "q-1",
        "txnAmt": "99900",
        "respCode": resp_code,
    }
    params["signature"] = bank.sign_params(params, private_pem)
    params.update(overrides)
    return urlencode(params).encode()


def bank_provider(keys) -> bank.BankProvider:
    return bank.BankProvider(bank.BankConfig("777290058110048", keys["merchant"][0], keys["provider"][1]))


def test_bank_notification_verifies_and_tampering_or_wrong_key_is_refused(keys) -> None:
    provider = bank_provider(keys)
    note = provider.parse_notification({}, bank_notification(keys["provider"][0]), NOW)
    assert (note.payment_id, note.amount_fen, note.status) == ("pay-3", 99900, "paid")
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, bank_notification(keys["provider"][0], txnAmt="1"), NOW)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({}, bank_notification(keys["other"][0]), NOW)


def test_bank_redirect_is_signed_with_the_merchant_key(keys) -> None:
    checkout = bank_provider(keys).checkout("pay-3", 99900, "CNY", "x", "https://x/notify", NOW)
    params = dict(parse_qsl(urlsplit(checkout.pay_url).query))
    assert params["txnAmt"] == "99900"
    rsa_sha256_verify(load_public_key(keys["merchant"][1]), bank.signing_digest(params), params["signature"])


# -- sandbox ----------------------------------------------------------------------------------------
def test_sandbox_notification_is_ed25519_signed() -> None:
    key = Ed25519PrivateKey.generate()
    provider = SandboxProvider(key, "http://127.0.0.1:8000")
    body = notification_body("n-1", "pay-4", "SBX1", 19900, "CNY", "SUCCESS", NOW.isoformat())
    note = provider.parse_notification({SIGNATURE_HEADER: provider.sign(body)}, body, NOW)
    assert (note.payment_id, note.amount_fen, note.status) == ("pay-4", 19900, "paid")
    with pytest.raises(InvalidNotification):
        provider.parse_notification(
            {SIGNATURE_HEADER: provider.sign(body)}, body.replace(b"19900", b"1"), NOW
        )
    stranger = SandboxProvider(Ed25519PrivateKey.generate(), "http://x")
    with pytest.raises(InvalidNotification):
        provider.parse_notification({SIGNATURE_HEADER: stranger.sign(body)}, body, NOW)
    with pytest.raises(InvalidNotification):
        provider.parse_notification({SIGNATURE_HEADER: base64.b64encode(b"x").decode()}, body, NOW)
    assert provider.checkout("pay-4", 1, "CNY", "s", "u", NOW).pay_url.endswith(
        "/api/v1/dev/sandbox-pay/pay-4"
    )


def alipay_server(
    keys, reply: dict, *, tamper: bool = False, requests: list[dict[str, str]] | None = None
) -> httpx.AsyncClient:
    """Stands in for Alipay's gateway: checks the merchant's request signature and answers a signed reply,
    as the open platform does (the signature covers the exact text of the response object)."""

    requests = [] if requests is None else requests

    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(parse_qsl(request.content.decode()))
        assert alipay_request_verifies(params, keys["merchant"][1])
        requests.append(params)
        content = json.dumps(reply, ensure_ascii=False, separators=(",", ":"))
        signature = alipay_sign_response(content, keys["provider"][0])
        if tamper:
            content = content.replace("TRADE_SUCCESS", "TRADE_CLOSED")
        key = params["method"].replace(".", "_") + "_response"
        raw = '{"' + key + '":' + content + ',"sign":"' + signature + '"}'
        return httpx.Response(200, text=raw)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_alipay_trade_query_is_signed_and_its_signed_response_verified(keys) -> None:
    paid = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "pay-1",
        "trade_no": "2026112922001",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "999.00",
        "buyer_logon_id": 'a"b}{c\\\\',  # quotes, braces and backslashes inside strings
    }
    config = alipay.AlipayConfig("2021000000000001", keys["merchant"][0], keys["provider"][1])
    async with alipay_server(keys, paid) as http:
        note = await alipay.AlipayProvider(config, http).query("pay-1", NOW)
    assert note is not None and (note.status, note.amount_fen, note.payment_id) == ("paid", 99900, "pay-1")
    async with alipay_server(keys, paid, tamper=True) as http:
        with pytest.raises(InvalidNotification):
            await alipay.AlipayProvider(config, http).query("pay-1", NOW)
    unknown = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_NOT_EXIST"}
    async with alipay_server(keys, unknown) as http:
        assert await alipay.AlipayProvider(config, http).query("pay-1", NOW) is None


def wechat_server(keys, status: int, reply: dict, *, tamper: bool = False) -> httpx.AsyncClient:
    """Stands in for WeChat Pay's API: checks the merchant's WECHATPAY2-SHA256-RSA2048 authorization and
    answers with a body signed by the platform key, as API v3 does."""

    def handle(request: httpx.Request) -> httpx.Response:
        scheme, _, fields = request.headers["authorization"].partition(" ")
        assert scheme == "WECHATPAY2-SHA256-RSA2048"
        auth = dict(part.split("=", 1) for part in fields.split(","))
        auth = {k: v.strip('"') for k, v in auth.items()}
        path = request.url.raw_path.decode()
        message = f"GET\n{path}\n{auth['timestamp']}\n{auth['nonce_str']}\n\n".encode()
        rsa_sha256_verify(load_public_key(keys["merchant"][1]), message, auth["signature"])
        body = json.dumps(reply).encode()
        timestamp, nonce = str(int(NOW.timestamp())), "resp-nonce"
        signature = wechat_sign(keys["provider"][0], timestamp, nonce, body)
        if tamper:
            body = body.replace(b"99900", b"1")
        headers = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Serial": "SERIAL1",
            "Wechatpay-Signature": signature,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }
        return httpx.Response(status, content=body, headers=headers)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle))


async def test_wechat_order_query_is_signed_and_its_signed_response_verified(keys) -> None:
    config = wechat.WechatConfig(
        "1900000001", API_V3_KEY, {"SERIAL1": keys["provider"][1]}, keys["merchant"][0], "MERCHANT-SERIAL"
    )
    paid = {
        "out_trade_no": "pay-2",
        "transaction_id": "4200000001",
        "trade_state": "SUCCESS",
        "amount": {"total": 99900, "currency": "CNY"},
    }
    async with wechat_server(keys, 200, paid) as http:
        note = await wechat.WechatProvider(config, http).query("pay-2", NOW)
    assert note is not None and (note.status, note.amount_fen) == ("paid", 99900)
    async with wechat_server(keys, 200, paid, tamper=True) as http:
        with pytest.raises(InvalidNotification):
            await wechat.WechatProvider(config, http).query("pay-2", NOW)
    async with wechat_server(keys, 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}) as http:
        assert await wechat.WechatProvider(config, http).query("pay-2", NOW) is None


async def test_alipay_refund_names_the_partial_refund_and_reads_the_signed_answer(keys) -> None:
    config = alipay.AlipayConfig("2021000000000001", keys["merchant"][0], keys["provider"][1])
    sent: list[dict[str, str]] = []
    ok = {"code": "10000", "msg": "Success", "fund_change": "Y", "refund_fee": "1.00"}
    async with alipay_server(keys, ok, requests=sent) as http:
        assert (
            await alipay.AlipayProvider(config, http).refund("pay-1", "r-1", 100, 99900, NOW) == "succeeded"
        )
    biz = json.loads(sent[0]["biz_content"])
    assert sent[0]["method"] == "alipay.trade.refund"
    assert biz == {"out_trade_no": "pay-1", "refund_amount": "1.00", "out_request_no": "r-1"}
    refused = {"code": "40004", "msg": "Business Failed", "sub_code": "ACQ.TRADE_STATUS_ERROR"}
    async with alipay_server(keys, refused) as http:
        assert await alipay.AlipayProvider(config, http).refund("pay-1", "r-2", 100, 99900, NOW) == "failed"


# -- Alipay statement (bill download) -------------------------------------------------------------------
def test_an_alipay_trade_bill_lists_the_days_payments_not_its_refunds() -> None:
    bill = alipay_trade_bill(
        "2026-11-29", [("pay-1", "交易", "999.00"), ("pay-2", "交易", "0.01"), ("pay-1", "退款", "-999.00")]
    )
    assert alipay.parse_trade_bill(bill) == {"pay-1": 99900, "pay-2": 1}
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w") as bundle:
        bundle.writestr("readme.txt", "not a bill")
    with pytest.raises(ValueError):
        alipay.parse_trade_bill(empty.getvalue())


async def test_alipays_statement_comes_from_the_signed_bill_download_url(keys) -> None:
    bill = alipay_trade_bill("2026-11-29", [("pay-1", "交易", "999.00")])
    transport = alipay_bill_gateway(keys["provider"][0], bill)
    async with httpx.AsyncClient(transport=transport) as http:
        provider = alipay.AlipayProvider(
            alipay.AlipayConfig("app-1", keys["merchant"][0], keys["provider"][1]), http
        )
        assert await provider.statement(date(2026, 11, 29), NOW) == {"pay-1": 99900}
        forged = alipay.AlipayProvider(
            alipay.AlipayConfig("app-1", keys["merchant"][0], keys["other"][1]), http
        )
        with pytest.raises(InvalidNotification):  # a download URL not provably from Alipay is not followed
            await forged.statement(date(2026, 11, 29), NOW)


# -- every provider's published statuses, mapped exactly (issue 16) -------------------------------------
# A status that means "still waiting for the buyer" must never read as closed: a closed payment used to
# refuse the money when the provider's success report came after it (R-PAY-2).
ALIPAY_STATUSES = [
    ("WAIT_BUYER_PAY", "pending"),
    ("TRADE_CLOSED", "closed"),
    ("TRADE_SUCCESS", "paid"),
    ("TRADE_FINISHED", "paid"),
    ("SOMETHING_NEW", "pending"),  # not in the published list: changes nothing
]
WECHAT_STATES = [
    ("SUCCESS", "paid"),
    ("REFUND", "refunded"),
    ("NOTPAY", "pending"),
    ("USERPAYING", "pending"),
    ("CLOSED", "closed"),
    ("REVOKED", "closed"),
    ("PAYERROR", "failed"),
    ("SOMETHING_NEW", "pending"),
]
BANK_CODES = [("00", "paid"), ("A6", "paid"), ("03", "pending"), ("04", "pending"), ("05", "pending")]
BANK_CODES += [(code, "failed") for code in ("01", "02", "06", "12", "30", "33", "38", "99")]
SANDBOX_STATUSES = [
    ("WAIT", "pending"),
    ("SUCCESS", "paid"),
    ("CLOSED", "closed"),
    ("FAILED", "failed"),
    ("SOMETHING_NEW", "pending"),
]


@pytest.mark.parametrize(("trade_status", "expected"), ALIPAY_STATUSES)
def test_each_alipay_trade_status_in_a_notification_maps_exactly(keys, trade_status, expected) -> None:
    body = alipay_notification(keys["provider"][0], trade_status)
    assert alipay_provider(keys).parse_notification({}, body, NOW).status == expected


@pytest.mark.parametrize(("trade_status", "expected"), ALIPAY_STATUSES)
async def test_each_alipay_trade_status_in_a_query_maps_exactly(keys, trade_status, expected) -> None:
    reply = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": "pay-1",
        "trade_no": "2026112922001",
        "trade_status": trade_status,
        "total_amount": "999.00",
    }
    config = alipay.AlipayConfig("2021000000000001", keys["merchant"][0], keys["provider"][1])
    async with alipay_server(keys, reply) as http:
        note = await alipay.AlipayProvider(config, http).query("pay-1", NOW)
    assert note is not None and note.status == expected


@pytest.mark.parametrize(("trade_state", "expected"), WECHAT_STATES)
def test_each_wechat_trade_state_in_a_callback_maps_exactly(keys, trade_state, expected) -> None:
    headers, body = wechat_callback(keys["provider"][0], trade_state=trade_state)
    assert wechat_provider(keys).parse_notification(headers, body, NOW).status == expected


@pytest.mark.parametrize(("trade_state", "expected"), WECHAT_STATES)
async def test_each_wechat_trade_state_in_a_query_maps_exactly(keys, trade_state, expected) -> None:
    config = wechat.WechatConfig(
        "1900000001", API_V3_KEY, {"SERIAL1": keys["provider"][1]}, keys["merchant"][0], "MERCHANT-SERIAL"
    )
    reply = {
        "out_trade_no": "pay-2",
        "transaction_id": "4200000001",
        "trade_state": trade_state,
        "amount": {"total": 99900, "currency": "CNY"},
    }
    async with wechat_server(keys, 200, reply) as http:
        note = await wechat.WechatProvider(config, http).query("pay-2", NOW)
    assert note is not None and note.status == expected


@pytest.mark.parametrize(("code", "expected"), BANK_CODES)
def test_each_bank_response_code_in_a_notification_maps_exactly(keys, code, expected) -> None:
    note = bank_provider(keys).parse_notification({}, bank_notification(keys["provider"][0], code), NOW)
    assert note.status == expected and note.notification_id == f"q-1:{code}"


@pytest.mark.parametrize(("code", "expected"), BANK_CODES)
def test_each_bank_original_response_code_of_a_query_maps_exactly(code, expected) -> None:
    assert bank.trade_status(code) == expected


@pytest.mark.parametrize(("status", "expected"), SANDBOX_STATUSES)
def test_each_sandbox_status_maps_exactly(status, expected) -> None:
    provider = SandboxProvider(Ed25519PrivateKey.generate(), "http://127.0.0.1:8000")
    body = notification_body("n-1", "pay-4", "SBX1", 19900, "CNY", status, NOW.isoformat())
    assert provider.parse_notification({SIGNATURE_HEADER: provider.sign(body)}, body, NOW).status == expected
