"""Alipay (支付宝开放平台) through python-alipay-sdk (`from alipay import AliPay`): RSA2 signatures as the open
platform specifies.

The SDK does the signing and the verification: `AliPay.client_api` builds and signs a request's parameters
(sorted by name, `k=v` joined by `&`, leaving out `sign`; RSA2 is SHA256WithRSA, PKCS#1 v1.5, Base64),
`AliPay.verify` checks an asynchronous notification (all parameters but `sign` and `sign_type`, as Alipay's
own SDKs check them) and `AliPay._verify` checks the signature over the exact text of an OpenAPI response
object. Its own HTTP (`urllib.request.urlopen`, blocking) is never used: the signed form goes out over our
`httpx.AsyncClient`, so nothing blocks the event loop. The signed text of a response is located here, by a
string-aware scan: the SDK's own (`_get_string_to_be_signed`) counts braces inside string values and would
cut a genuine answer short.
Notifications arrive as a form POST and must be answered with the plain text `success`, or Alipay retries
them."""

from __future__ import annotations

import binascii
import csv
import io
import json
import logging
import uuid
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import httpx
from alipay import AliPay
from alipay.exceptions import AliPayException

from services.payment.domain import fen_from_yuan, yuan
from services.payment.providers.base import (
    CLOSED,
    PAID,
    PENDING,
    Ack,
    Checkout,
    InvalidNotification,
    Notification,
    ProviderUnavailable,
    reported_status,
)

# Importing the SDK gives its "python-alipay-sdk" logger a plain-text DEBUG console handler of its own; our
# logs are JSON through the root logger (services/runtime/logs.py), so it goes. (The SDK logs only with
# verbose=True, never set here: it would log every signed parameter.)
logging.getLogger("python-alipay-sdk").handlers.clear()

BEIJING = timezone(timedelta(hours=8))
# trade_status as Alipay publishes it (notifications and alipay.trade.query alike). TRADE_CLOSED is "unpaid and
# timed out, or refunded in full" — either way no money is held for the trade; a refund in full of a trade we
# applied is a later report on a paid payment, which never moves it back.
TRADE_STATUSES = {
    "WAIT_BUYER_PAY": PENDING,
    "TRADE_CLOSED": CLOSED,
    "TRADE_SUCCESS": PAID,
    "TRADE_FINISHED": PAID,
}
MAX_BILL_BYTES = 50 * 1024 * 1024


def parse_trade_bill(archive: bytes) -> dict[str, int]:
    """The payments of an Alipay trade bill (账单 bill_type=trade, as downloaded: a zip holding the GBK CSV
    `…_业务明细.csv` and its summary `…_业务明细(汇总).csv`): 商户订单号 → 订单金额 in fen, for the rows whose
    业务类型 is 交易 (refunds are their own rows, 退款). Lines starting with `#` are the bill's header and
    footer; values may carry trailing tabs. ValueError for anything that is not such a bill."""
    with zipfile.ZipFile(io.BytesIO(archive)) as bundle:
        names = [n for n in bundle.namelist() if n.endswith(".csv") and "汇总" not in n]
        if len(names) != 1:
            raise ValueError("the bill archive has no single detail CSV")
        text = bundle.read(names[0]).decode("gbk")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    rows = [[cell.strip() for cell in row] for row in csv.reader(lines)]
    if not rows or "商户订单号" not in rows[0]:
        raise ValueError("the bill has no header row")
    header = rows[0]
    order, kind, amount = header.index("商户订单号"), header.index("业务类型"), header.index("订单金额（元）")
    payments: dict[str, int] = {}
    for row in rows[1:]:
        if len(row) > max(order, kind, amount) and row[kind] == "交易":
            payments[row[order]] = payments.get(row[order], 0) + fen_from_yuan(row[amount])
    return payments


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key_pem: str  # the merchant's key: signs requests
    alipay_public_key_pem: str  # Alipay's key: verifies notifications
    gateway_url: str = "https://openapi.alipay.com/gateway.do"


def signed_response_content(raw: str, key: str) -> str:
    """The exact text of the JSON object under `key` in an OpenAPI response: what Alipay signs."""
    marker = f'"{key}":'
    start = raw.find(marker)
    if start < 0:
        raise InvalidNotification(f"the response has no {key}")
    start = raw.index("{", start + len(marker))
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(raw)):
        ch = raw[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return raw[start : i + 1]
    raise InvalidNotification("the response is truncated")


class AlipayProvider:
    name = "alipay"
    ack = Ack("success", "text/plain; charset=utf-8")

    def __init__(self, config: AlipayConfig, http: httpx.AsyncClient | None = None) -> None:
        """ValueError when a key is not an RSA key in PEM (the SDK loads both keys here, offline)."""
        self.config = config
        try:
            self._sdk = AliPay(
                appid=config.app_id,
                app_private_key_string=config.app_private_key_pem,
                alipay_public_key_string=config.alipay_public_key_pem,
                sign_type="RSA2",
                verbose=False,  # verbose logs every signed parameter, the buyer's among them
            )
        except (ValueError, IndexError, TypeError) as exc:
            raise ValueError(
                "the Alipay app private key and Alipay public key must be RSA keys in PEM"
            ) from exc
        self._http = http

    def _signed_form(self, method: str, biz: dict[str, object], now: datetime, **extra: str) -> str:
        """The request's parameters, signed by the SDK with the app key, URL-encoded (`…&sign=…`). The
        timestamp is Beijing time, as Alipay reads it (the SDK would take the host's local time)."""
        form: str = self._sdk.client_api(
            method,
            biz,
            format="JSON",
            timestamp=now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
            **extra,
        )
        return form

    def _verified_response(self, raw: str, method: str) -> dict[str, Any]:
        """The `<method>_response` object of an OpenAPI answer, returned only when the SDK verifies
        Alipay's signature over its exact text (InvalidNotification otherwise)."""
        content = signed_response_content(raw, method.replace(".", "_") + "_response")
        try:
            signature = json.loads(raw)["sign"]
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidNotification("the response is not signed") from exc
        if not isinstance(signature, str) or not signature:
            raise InvalidNotification("the response is not signed")
        try:
            verified = bool(self._sdk._verify(content, signature))
        except (binascii.Error, ValueError) as exc:
            raise InvalidNotification("the response's signature is garbled") from exc
        if not verified:
            raise InvalidNotification("the signature does not verify")
        body: dict[str, Any] = json.loads(content)
        return body

    async def _call(self, method: str, biz: dict[str, object], now: datetime) -> dict[str, Any]:
        """One OpenAPI call: the SDK-signed form POSTed over httpx, the verified response object back."""
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.post(
                self.config.gateway_url,
                content=self._signed_form(method, biz, now).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            )
        finally:
            if self._http is None:
                await http.aclose()
        return self._verified_response(response.text, method)

    async def refund(
        self, payment_id: str, refund_id: str, amount_fen: int, total_fen: int, now: datetime
    ) -> str:
        """`alipay.trade.refund` (partial refunds by `out_request_no`): "succeeded" or "failed"."""
        body = await self._call(
            "alipay.trade.refund",
            {"out_trade_no": payment_id, "refund_amount": yuan(amount_fen), "out_request_no": refund_id},
            now,
        )
        return "succeeded" if body.get("code") == "10000" else "failed"

    async def statement(self, day: date, now: datetime) -> dict[str, int]:
        """Alipay's statement of `day` (Beijing time): `alipay.data.dataservice.bill.downloadurl.query`
        (bill_type trade, its answer's signature verified) gives a short-lived download URL of the bill,
        which is fetched and parsed (`parse_trade_bill`). ProviderUnavailable when Alipay has no bill (yet)."""
        body = await self._call(
            "alipay.data.dataservice.bill.downloadurl.query",
            {"bill_type": "trade", "bill_date": day.isoformat()},
            now,
        )
        url = body.get("bill_download_url")
        if (
            body.get("code") != "10000"
            or not isinstance(url, str)
            or not url.startswith(("https://", "http://"))
        ):
            raise ProviderUnavailable(
                f"Alipay has no bill for {day}: {body.get('sub_code') or body.get('code')}"
            )
        http = self._http or httpx.AsyncClient(timeout=30.0)
        try:
            response = await http.get(url)
        finally:
            if self._http is None:
                await http.aclose()
        if response.status_code != 200 or len(response.content) > MAX_BILL_BYTES:
            raise ProviderUnavailable(f"the bill of {day} could not be downloaded ({response.status_code})")
        try:
            return parse_trade_bill(response.content)
        except (ValueError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            raise ProviderUnavailable(f"the bill of {day} is not an Alipay trade bill") from exc

    async def query(self, payment_id: str, now: datetime) -> Notification | None:
        """`alipay.trade.query`: Alipay's own record of the trade, its response signature verified.
        None when Alipay does not know the trade (ACQ.TRADE_NOT_EXIST)."""
        body = await self._call("alipay.trade.query", {"out_trade_no": payment_id}, now)
        if body.get("code") != "10000":
            if body.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise InvalidNotification(
                f"alipay.trade.query failed: {body.get('sub_code') or body.get('code')}"
            )
        status = str(body.get("trade_status", ""))
        return Notification(
            notification_id=f"query:{body.get('trade_no', '')}:{status}:{uuid.uuid4().hex}",
            payment_id=str(body.get("out_trade_no", payment_id)),
            provider_txn_id=str(body.get("trade_no", "")),
            amount_fen=fen_from_yuan(str(body.get("total_amount", "0"))),
            currency="CNY",
            status=reported_status(self.name, TRADE_STATUSES, status),
        )

    def checkout(
        self, payment_id: str, amount_fen: int, currency: str, subject: str, notify_url: str, now: datetime
    ) -> Checkout:
        """A signed `alipay.trade.page.pay` redirect (computer-website payment)."""
        biz: dict[str, object] = {
            "out_trade_no": payment_id,
            "total_amount": yuan(amount_fen),
            "subject": subject[:256],
            "product_code": "FAST_INSTANT_TRADE_PAY",
        }
        form = self._signed_form("alipay.trade.page.pay", biz, now, notify_url=notify_url)
        return Checkout(pay_url=f"{self.config.gateway_url}?{form}")

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidNotification("the body is not a form") from exc
        signature = params.pop("sign", "")
        if not signature or params.get("sign_type", "RSA2") != "RSA2":
            raise InvalidNotification("the notification is not RSA2-signed")
        try:
            verified = bool(self._sdk.verify(dict(params), signature))
        except (AliPayException, binascii.Error, ValueError) as exc:
            raise InvalidNotification("the signature is garbled") from exc
        if not verified:
            raise InvalidNotification("the signature does not verify")
        if params.get("app_id") != self.config.app_id:
            raise InvalidNotification("the notification is for another app")
        try:
            amount = fen_from_yuan(params["total_amount"])
            payment_id, notify_id = params["out_trade_no"], params["notify_id"]
        except (KeyError, ValueError) as exc:
            raise InvalidNotification("the notification lacks a trade number or amount") from exc
        status = params.get("trade_status", "")
        return Notification(
            notification_id=notify_id,
            payment_id=payment_id,
            provider_txn_id=params.get("trade_no", ""),
            amount_fen=amount,
            currency="CNY",
            status=reported_status(self.name, TRADE_STATUSES, status),
        )
