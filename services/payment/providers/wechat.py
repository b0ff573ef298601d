"""WeChat Pay API v3 (微信支付 APIv3) through wechatpayv3 (`from wechatpayv3 import WeChatPay, WeChatPayType`):
RSA signatures over the HTTP message and AES-256-GCM callbacks.

One `WeChatPay` per WeChat Pay public key, built in its public-key mode (`public_key` + `public_key_id`), so
construction never downloads platform certificates and nothing touches the network at start. The SDK
verifies a callback's signature over `timestamp\\nnonce\\nbody\\n` (SHA256 with RSA, PKCS#1 v1.5) and decrypts
its `resource` with AEAD_AES_256_GCM under the merchant's 32-byte APIv3 key (`WeChatPay.callback`); it
builds the `Authorization` header of our requests (`wechatpayv3.utils.build_authorization`) and verifies the
signature of WeChat Pay's answers (`wechatpayv3.utils.rsa_verify`). The SDK's own HTTP (`requests`,
blocking) is never used: requests go out over our `httpx.AsyncClient`.

Checked here before the SDK sees a message: the signature headers are present, the key id
(Wechatpay-Serial) is one we hold (an unknown id would make the SDK download certificates, blocking, from
the network), and the timestamp is within five minutes of now (the SDK does not check it)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import build_authorization, load_private_key, load_public_key, rsa_verify

from services.payment.providers.base import (
    CLOSED,
    FAILED,
    PAID,
    PENDING,
    REFUNDED,
    Ack,
    Checkout,
    InvalidNotification,
    Notification,
    ProviderUnavailable,
    reported_status,
)

# trade_state as WeChat Pay APIv3 publishes it (the payment callback's resource and the query alike):
# NOTPAY and USERPAYING are a buyer still paying; REVOKED and PAYERROR (付款码 payments) a trade that took no
# money; REFUND one that was paid and has been sent back by the merchant at WeChat Pay.
TRADE_STATES = {
    "SUCCESS": PAID,
    "REFUND": REFUNDED,
    "NOTPAY": PENDING,
    "USERPAYING": PENDING,
    "CLOSED": CLOSED,
    "REVOKED": CLOSED,
    "PAYERROR": FAILED,
}
MAX_CLOCK_SKEW_SECONDS = 300
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


@dataclass(frozen=True)
class WechatConfig:
    mch_id: str
    api_v3_key: str  # 32 ASCII characters
    platform_public_keys: Mapping[str, str]  # WeChat Pay public key id (Wechatpay-Serial) → public key PEM
    merchant_private_key_pem: str = ""  # signs API requests (the query API needs it)
    merchant_serial: str = ""  # serial of the merchant certificate
    api_base: str = "https://api.mch.weixin.qq.com"
    app_id: str = ""  # the appid bound to the merchant (Native ordering needs it)


class WechatProvider:
    name = "wechat"
    ack = Ack('{"code":"SUCCESS","message":"OK"}', "application/json")

    def __init__(self, config: WechatConfig, http: httpx.AsyncClient | None = None) -> None:
        """ValueError for an APIv3 key that is not 32 bytes or a key the SDK cannot load. Offline: every
        `WeChatPay` is in public-key mode, so none of them asks WeChat Pay for certificates."""
        if len(config.api_v3_key.encode()) != 32:
            raise ValueError("the WeChat Pay APIv3 key must be 32 bytes")
        self.config = config
        try:
            self._merchant_key = load_private_key(config.merchant_private_key_pem)
            self._public_keys = {k: load_public_key(pem) for k, pem in config.platform_public_keys.items()}
            self._sdks = {
                key_id: WeChatPay(
                    wechatpay_type=WeChatPayType.NATIVE,
                    mchid=config.mch_id,
                    private_key=config.merchant_private_key_pem or None,
                    cert_serial_no=config.merchant_serial,
                    appid=config.app_id,
                    apiv3_key=config.api_v3_key,
                    public_key=pem,
                    public_key_id=key_id,
                )
                for key_id, pem in config.platform_public_keys.items()
            }
        except Exception as exc:  # the SDK raises a bare Exception for a key it cannot load
            raise ValueError(f"a WeChat Pay key does not load: {exc}") from exc
        self._http = http

    def _signature(self, headers: Mapping[str, str], now: datetime) -> tuple[str, str, str, str]:
        """(key id, timestamp, nonce, signature) of a message from WeChat Pay (callbacks and API answers
        are signed alike), once the headers are all there, name a key we hold, use the v3 algorithm and
        are within five minutes of now; InvalidNotification otherwise."""
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        signature = headers.get("wechatpay-signature", "")
        key_id = headers.get("wechatpay-serial", "")
        if not (timestamp and nonce and signature) or key_id not in self._sdks:
            raise InvalidNotification("the message lacks WeChat Pay's signature headers")
        if headers.get("wechatpay-signature-type", "") != SIGNATURE_TYPE:
            raise InvalidNotification(f"the message is not signed with {SIGNATURE_TYPE}")
        if not timestamp.isdigit() or abs(int(now.timestamp()) - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise InvalidNotification("the message's timestamp is too far from now")
        return key_id, timestamp, nonce, signature

    def _verified_answer(self, response: httpx.Response, now: datetime) -> dict[str, Any]:
        """The JSON of an API answer once the SDK verifies WeChat Pay's signature over it."""
        key_id, timestamp, nonce, signature = self._signature(
            {k.lower(): v for k, v in response.headers.items()}, now
        )
        try:
            body = response.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidNotification("the answer is not UTF-8") from exc
        if not rsa_verify(timestamp, nonce, body, signature, self._public_keys[key_id]):
            raise InvalidNotification("the signature does not verify")
        try:
            data = json.loads(body) if body else {}
        except ValueError as exc:
            raise InvalidNotification("the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise InvalidNotification("the answer is not a JSON object")
        return data

    def _authorization(self, method: str, path: str, body: str) -> str:
        """The `Authorization` header of a merchant API request (WECHATPAY2-SHA256-RSA2048), by the SDK."""
        header: str = build_authorization(
            path,
            method,
            self.config.mch_id,
            self.config.merchant_serial,
            self._merchant_key,
            data=body,
            nonce_str=secrets.token_hex(16),
        )
        return header

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
        headers = {
            "Authorization": self._authorization("POST", path, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.post(self.config.api_base + path, content=body.encode(), headers=headers)
        finally:
            if self._http is None:
                await http.aclose()
        data = self._verified_answer(response, now)
        status = str(data.get("status", "")) if response.status_code == 200 else ""
        return {"SUCCESS": "succeeded", "PROCESSING": "pending"}.get(status, "failed")

    async def query(self, payment_id: str, now: datetime) -> Notification | None:
        """GET /v3/pay/transactions/out-trade-no/{id}: WeChat Pay's record of the payment, its response
        signature verified; None when WeChat Pay has no such order (ORDER_NOT_EXIST)."""
        if not self.config.merchant_private_key_pem:
            return None
        path = f"/v3/pay/transactions/out-trade-no/{quote(payment_id, safe='')}?mchid={self.config.mch_id}"
        headers = {
            "Authorization": self._authorization("GET", path, ""),
            "Accept": "application/json",
        }
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.get(self.config.api_base + path, headers=headers)
        finally:
            if self._http is None:
                await http.aclose()
        data = self._verified_answer(response, now)
        if response.status_code == 404 or data.get("code") == "ORDER_NOT_EXIST":
            return None
        if response.status_code != 200:
            raise InvalidNotification(f"the query failed: {data.get('code')}")
        amount = data.get("amount") or {}
        state = str(data.get("trade_state"))
        return Notification(
            notification_id=f"query:{data.get('transaction_id', '')}:{state}:{secrets.token_hex(16)}",
            payment_id=str(data.get("out_trade_no", payment_id)),
            provider_txn_id=str(data.get("transaction_id", "")),
            amount_fen=int(amount.get("total", 0)),
            currency=str(amount.get("currency", "CNY")),
            status=reported_status(self.name, TRADE_STATES, state),
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
        headers = {
            "Authorization": self._authorization("POST", path, body),
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
            data = self._verified_answer(response, now)
        except InvalidNotification as exc:
            raise ProviderUnavailable("WeChat Pay's answer is not signed by WeChat Pay") from exc
        code_url = data.get("code_url") if response.status_code == 200 else None
        if not isinstance(code_url, str) or not code_url.startswith("weixin://"):
            raise ProviderUnavailable(
                f"WeChat Pay refused the order: {data.get('code', response.status_code)}"
            )
        return Checkout(qr_code=code_url)

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        """The SDK verifies the callback's signature and decrypts its AES-256-GCM resource."""
        key_id, timestamp, nonce, signature = self._signature(headers, now)
        signed = {
            "wechatpay-signature": signature,
            "wechatpay-timestamp": timestamp,
            "wechatpay-nonce": nonce,
            "wechatpay-serial": key_id,
            "wechatpay-signature-type": SIGNATURE_TYPE,
        }
        try:
            callback = self._sdks[key_id].callback(signed, body)
        except Exception as exc:  # garbled JSON, Base64 or UTF-8; the SDK raises a bare Exception for
            # an algorithm other than AEAD_AES_256_GCM
            raise InvalidNotification("the callback is garbled") from exc
        if not callback:
            raise InvalidNotification(
                "the callback's signature does not verify or its resource does not decrypt under the APIv3 key"
            )
        try:
            resource = callback["resource"]
            amount = resource["amount"]
            notification = Notification(
                notification_id=str(callback["id"]),
                payment_id=str(resource["out_trade_no"]),
                provider_txn_id=str(resource.get("transaction_id", "")),
                amount_fen=int(amount["total"]),
                currency=str(amount.get("currency", "CNY")),
                status=reported_status(self.name, TRADE_STATES, str(resource.get("trade_state"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidNotification("the callback is not a transaction notification") from exc
        if resource.get("mchid") not in (None, self.config.mch_id):
            raise InvalidNotification("the callback is for another merchant")
        return notification
