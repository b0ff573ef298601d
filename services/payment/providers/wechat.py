"""WeChat Pay API v3 (微信支付 APIv3): RSA signatures over the HTTP message and AES-256-GCM callbacks.

A callback is verified over `timestamp\\nnonce\\nbody\\n` (headers Wechatpay-Timestamp, Wechatpay-Nonce)
with the platform certificate's public key named by Wechatpay-Serial (SHA256 with RSA, PKCS#1 v1.5,
Wechatpay-Signature in Base64), refused when the timestamp is more than five minutes off, and its
`resource` is decrypted with AEAD_AES_256_GCM under the merchant's 32-byte APIv3 key, using the
resource's nonce and associated_data."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.payment.providers.base import (
    Ack,
    Checkout,
    InvalidNotification,
    Notification,
    ProviderUnavailable,
    load_private_key,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
)

MAX_CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class WechatConfig:
    mch_id: str
    api_v3_key: str  # 32 ASCII characters
    platform_public_keys: Mapping[str, str]  # platform certificate serial → public key PEM
    merchant_private_key_pem: str = ""  # signs API requests (the query API needs it)
    merchant_serial: str = ""  # serial of the merchant certificate
    api_base: str = "https://api.mch.weixin.qq.com"
    app_id: str = ""  # the appid bound to the merchant (Native ordering needs it)


def authorization(config: WechatConfig, method: str, path: str, body: str, timestamp: str, nonce: str) -> str:
    """The `Authorization` header of a merchant API request (WECHATPAY2-SHA256-RSA2048)."""
    message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n".encode()
    signature = rsa_sha256_sign(load_private_key(config.merchant_private_key_pem), message)
    return (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{config.mch_id}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{timestamp}",serial_no="{config.merchant_serial}"'
    )


def signing_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def sign_callback(private_key_pem: str, timestamp: str, nonce: str, body: bytes) -> str:
    """Wechatpay-Signature of a callback (what WeChat Pay's platform key produces)."""
    return rsa_sha256_sign(load_private_key(private_key_pem), signing_message(timestamp, nonce, body))


def encrypt_resource(api_v3_key: str, plaintext: bytes, nonce: str, associated_data: str) -> str:
    """Base64 ciphertext of a callback resource (what WeChat Pay sends; used by tests and tools)."""
    sealed = AESGCM(api_v3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return base64.b64encode(sealed).decode()


def decrypt_resource(api_v3_key: str, resource: Mapping[str, str]) -> bytes:
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise InvalidNotification("unsupported resource algorithm")
    try:
        return AESGCM(api_v3_key.encode()).decrypt(
            resource["nonce"].encode(),
            base64.b64decode(resource["ciphertext"], validate=True),
            resource.get("associated_data", "").encode(),
        )
    except (InvalidTag, KeyError, binascii.Error, ValueError) as exc:
        raise InvalidNotification("the resource does not decrypt under the APIv3 key") from exc


class WechatProvider:
    name = "wechat"
    ack = Ack('{"code":"SUCCESS","message":"OK"}', "application/json")

    def __init__(self, config: WechatConfig, http: httpx.AsyncClient | None = None) -> None:
        if len(config.api_v3_key.encode()) != 32:
            raise ValueError("the WeChat Pay APIv3 key must be 32 bytes")
        self.config = config
        self._keys = {serial: load_public_key(pem) for serial, pem in config.platform_public_keys.items()}
        self._http = http

    def _verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """InvalidNotification unless `body` carries WeChat Pay's platform signature (callbacks and API
        responses are signed alike)."""
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        signature = headers.get("wechatpay-signature", "")
        key = self._keys.get(headers.get("wechatpay-serial", ""))
        if not (timestamp and nonce and signature) or key is None:
            raise InvalidNotification("the message lacks WeChat Pay's signature headers")
        if not timestamp.isdigit() or abs(int(now.timestamp()) - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise InvalidNotification("the message's timestamp is too far from now")
        rsa_sha256_verify(key, signing_message(timestamp, nonce, body), signature)

    async def refund(
        self, payment_id: str, refund_id: str, amount_fen: int, total_fen: int, now: datetime
    ) -> str:
        """POST /v3/refund/domestic/refunds: "succeeded", "pending" (PROCESSING) or "failed"."""
        if not self.config.merchant_private_key_pem:
            return "pending"
        path = "/v3/refund/domestic/refunds"
        body = json.dumps(
            {
                "out_trade_no": payment_id,
                "out_refund_no": refund_id,
                "amount": {"refund": amount_fen, "total": total_fen, "currency": "CNY"},
            },
            separators=(",", ":"),
        )
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
        headers = {
            "Authorization": authorization(self.config, "POST", path, body, timestamp, nonce),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.post(self.config.api_base + path, content=body.encode(), headers=headers)
        finally:
            if self._http is None:
                await http.aclose()
        self._verify({k.lower(): v for k, v in response.headers.items()}, response.content, now)
        status = str(json.loads(response.content).get("status", "")) if response.status_code == 200 else ""
        return {"SUCCESS": "succeeded", "PROCESSING": "pending"}.get(status, "failed")

    async def query(self, payment_id: str, now: datetime) -> Notification | None:
        """GET /v3/pay/transactions/out-trade-no/{id}: WeChat Pay's record of the payment, its response
        signature verified; None when WeChat Pay has no such order (ORDER_NOT_EXIST)."""
        if not self.config.merchant_private_key_pem:
            return None
        path = f"/v3/pay/transactions/out-trade-no/{quote(payment_id, safe='')}?mchid={self.config.mch_id}"
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
        headers = {
            "Authorization": authorization(self.config, "GET", path, "", timestamp, nonce),
            "Accept": "application/json",
        }
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.get(self.config.api_base + path, headers=headers)
        finally:
            if self._http is None:
                await http.aclose()
        self._verify({k.lower(): v for k, v in response.headers.items()}, response.content, now)
        data = json.loads(response.content)
        if response.status_code == 404 or data.get("code") == "ORDER_NOT_EXIST":
            return None
        if response.status_code != 200:
            raise InvalidNotification(f"the query failed: {data.get('code')}")
        amount = data.get("amount") or {}
        state = str(data.get("trade_state"))
        return Notification(
            notification_id=f"query:{data.get('transaction_id', '')}:{state}:{nonce}",
            payment_id=str(data.get("out_trade_no", payment_id)),
            provider_txn_id=str(data.get("transaction_id", "")),
            amount_fen=int(amount.get("total", 0)),
            currency=str(amount.get("currency", "CNY")),
            status={"SUCCESS": "paid", "CLOSED": "closed", "PAYERROR": "closed"}.get(state, "pending"),
        )

    async def checkout(
        self, payment_id: str, amount_fen: int, currency: str, subject: str, notify_url: str, now: datetime
    ) -> Checkout:
        """Native payment (Native下单): POST /v3/pay/transactions/native with a signed request; WeChat Pay
        answers, signed, with the `code_url` the client scans (the QR code's content). Ordering again with
        the same out_trade_no returns the same code_url. ProviderUnavailable without merchant credentials,
        when WeChat Pay refuses, or when the answer's signature does not verify."""
        if not (self.config.merchant_private_key_pem and self.config.app_id):
            raise ProviderUnavailable("WeChat Pay ordering needs the merchant key and the appid")
        path = "/v3/pay/transactions/native"
        body = json.dumps(
            {
                "appid": self.config.app_id,
                "mchid": self.config.mch_id,
                "description": (subject or "counsel")[:127],
                "out_trade_no": payment_id,
                "notify_url": notify_url,
                "amount": {"total": amount_fen, "currency": currency or "CNY"},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        timestamp, nonce = str(int(now.timestamp())), secrets.token_hex(16)
        headers = {
            "Authorization": authorization(self.config, "POST", path, body, timestamp, nonce),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.post(self.config.api_base + path, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("WeChat Pay cannot be reached") from exc
        finally:
            if self._http is None:
                await http.aclose()
        try:
            self._verify({k.lower(): v for k, v in response.headers.items()}, response.content, now)
            data = json.loads(response.content)
        except (InvalidNotification, ValueError) as exc:
            raise ProviderUnavailable("WeChat Pay's answer is not signed by WeChat Pay") from exc
        code_url = data.get("code_url") if response.status_code == 200 else None
        if not isinstance(code_url, str) or not code_url.startswith("weixin://"):
            raise ProviderUnavailable(
                f"WeChat Pay refused the order: {data.get('code', response.status_code)}"
            )
        return Checkout(qr_code=code_url)

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        self._verify(headers, body, now)
        try:
            envelope = json.loads(body)
            resource = json.loads(decrypt_resource(self.config.api_v3_key, envelope["resource"]))
            amount = resource["amount"]
            notification = Notification(
                notification_id=str(envelope["id"]),
                payment_id=str(resource["out_trade_no"]),
                provider_txn_id=str(resource.get("transaction_id", "")),
                amount_fen=int(amount["total"]),
                currency=str(amount.get("currency", "CNY")),
                status={"SUCCESS": "paid", "CLOSED": "closed", "PAYERROR": "closed"}.get(
                    str(resource.get("trade_state")), "pending"
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidNotification("the callback is not a transaction notification") from exc
        if resource.get("mchid") not in (None, self.config.mch_id):
            raise InvalidNotification("the callback is for another merchant")
        return notification
