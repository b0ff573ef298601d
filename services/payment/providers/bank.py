"""Online banking (网银) through a UnionPay-style gateway: a signed form redirect out, a signed form back.

The signature (signMethod 01) is RSA SHA256 over the lowercase hex SHA-256 of the parameters sorted by
name as `k=v&…` (leaving out `signature`), Base64-encoded; the bank answers with `respCode` 00 for
success and amounts in fen (`txnAmt`). The notification is acknowledged with `ok`.

Back-end calls (server to server, form in and form out, both signed the same way): the query
(`txnType` 00, by `orderId`) and the refund (`txnType` 04, naming the original trade by `origQryId`, which the
provider learns from a query first). Every answer's signature is verified with the bank's public key before
anything in it is believed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode

import httpx

from services.payment.providers.base import (
    FAILED,
    PAID,
    PENDING,
    Ack,
    Checkout,
    InvalidNotification,
    Notification,
    ProviderUnavailable,
    load_private_key,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
    sorted_params,
)

BEIJING = timezone(timedelta(hours=8))
# UnionPay's response codes (respCode of a notification, origRespCode of a query) for a consumption trade:
# 00 and A6 (成功, 有缺陷的成功) are money received; 03 交易通讯超时, 04 交易状态未明 and 05 交易已受理 are in
# progress (ask again); every other code is a trade that failed, so every code not named here is FAILED.
PAID_CODES = ("00", "A6")
PENDING_CODES = ("03", "04", "05")


def trade_status(code: str) -> str:
    """A UnionPay response code in our words (see PAID_CODES)."""
    return PAID if code in PAID_CODES else PENDING if code in PENDING_CODES else FAILED


@dataclass(frozen=True)
class BankConfig:
    mer_id: str
    merchant_private_key_pem: str
    bank_public_key_pem: str
    front_url: str = "https://gateway.95516.com/gateway/api/frontTransReq.do"
    back_url: str = "https://gateway.95516.com/gateway/api/backTransReq.do"
    query_url: str = "https://gateway.95516.com/gateway/api/queryTrans.do"


def signing_digest(params: Mapping[str, str]) -> bytes:
    return hashlib.sha256(sorted_params(params, exclude=("signature",)).encode()).hexdigest().encode()


def sign_params(params: Mapping[str, str], private_key_pem: str) -> str:
    return rsa_sha256_sign(load_private_key(private_key_pem), signing_digest(params))


class BankProvider:
    name = "bank"
    ack = Ack("ok", "text/plain; charset=utf-8")

    def __init__(self, config: BankConfig, http: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._public_key = load_public_key(config.bank_public_key_pem)
        self._http = http

    def _signed(self, params: dict[str, str]) -> dict[str, str]:
        params = {
            "version": "5.1.0",
            "encoding": "UTF-8",
            "signMethod": "01",
            "bizType": "000201",
            "accessType": "0",
            "channelType": "07",
            "merId": self.config.mer_id,
            **params,
        }
        params["signature"] = sign_params(params, self.config.merchant_private_key_pem)
        return params

    async def _call(self, url: str, params: dict[str, str]) -> dict[str, str]:
        """POST a signed form to the bank; its answer (a form) once its signature verifies.
        ProviderUnavailable when the bank cannot be reached; InvalidNotification when the answer is not
        provably the bank's."""
        http = self._http or httpx.AsyncClient(timeout=10.0)
        try:
            response = await http.post(
                url,
                content=urlencode(self._signed(params)).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("the bank cannot be reached") from exc
        finally:
            if self._http is None:
                await http.aclose()
        return self._verified_form(response.content)

    def _verified_form(self, body: bytes) -> dict[str, str]:
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidNotification("the bank's answer is not a form") from exc
        if not params.get("signature") or params.get("signMethod") != "01":
            raise InvalidNotification("the bank's answer is not signed with signMethod 01")
        rsa_sha256_verify(self._public_key, signing_digest(params), params["signature"])
        if params.get("merId") not in (None, self.config.mer_id):
            raise InvalidNotification("the bank's answer is for another merchant")
        return params

    async def query(self, payment_id: str, now: datetime) -> Notification | None:
        """The bank's record of the payment (query, txnType 00): paid when the original trade succeeded
        (origRespCode 00 or A6), pending while it is in progress, failed otherwise; None when the bank has
        no such trade (respCode 34)."""
        answer = await self._call(
            self.config.query_url,
            {
                "txnType": "00",
                "txnSubType": "00",
                "orderId": payment_id,
                "txnTime": now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
            },
        )
        code, original = answer.get("respCode", ""), answer.get("origRespCode", "")
        if code == "34":
            return None
        if code != "00":
            raise ProviderUnavailable(f"the bank's query failed: {code}")
        status = trade_status(original)
        try:
            amount = int(answer["txnAmt"])
        except (KeyError, ValueError) as exc:
            raise InvalidNotification("the bank's answer lacks the amount") from exc
        query_id = answer.get("queryId", "")
        return Notification(
            notification_id=f"query:{query_id}:{original}",
            payment_id=answer.get("orderId", payment_id),
            provider_txn_id=query_id,
            amount_fen=amount,
            currency="CNY",
            status=status,
        )

    async def refund(
        self, payment_id: str, refund_id: str, amount_fen: int, total_fen: int, now: datetime
    ) -> str:
        """Refund (txnType 04) of `amount_fen` of the paid trade, found by a query first (the refund names the
        original trade's queryId): "succeeded" (respCode 00), "pending" (03/04/05: in progress, asked again
        later) or "failed" (refused; also when the bank has no paid trade to refund)."""
        original = await self.query(payment_id, now)
        if original is None or original.status != "paid" or not original.provider_txn_id:
            return "failed"
        answer = await self._call(
            self.config.back_url,
            {
                "txnType": "04",
                "txnSubType": "00",
                "orderId": refund_id,
                "origQryId": original.provider_txn_id,
                "txnTime": now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
                "txnAmt": str(amount_fen),
                "currencyCode": "156",
            },
        )
        code = answer.get("respCode", "")
        return "succeeded" if code == "00" else "pending" if code in PENDING_CODES else "failed"

    def checkout(
        self, payment_id: str, amount_fen: int, currency: str, subject: str, notify_url: str, now: datetime
    ) -> Checkout:
        params = {
            "version": "5.1.0",
            "encoding": "UTF-8",
            "signMethod": "01",
            "txnType": "01",
            "txnSubType": "01",
            "bizType": "000201",
            "channelType": "07",
            "merId": self.config.mer_id,
            "orderId": payment_id,
            "txnTime": now.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
            "txnAmt": str(amount_fen),
            "currencyCode": "156",
            "backUrl": notify_url,
        }
        params["signature"] = sign_params(params, self.config.merchant_private_key_pem)
        return Checkout(pay_url=f"{self.config.front_url}?{urlencode(params)}")

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> Notification:
        params = self._verified_form(body)
        if params.get("merId") != self.config.mer_id:
            raise InvalidNotification("the notification is for another merchant")
        try:
            amount = int(params["txnAmt"])
            payment_id, query_id = params["orderId"], params["queryId"]
        except (KeyError, ValueError) as exc:
            raise InvalidNotification("the notification lacks an order, query id or amount") from exc
        return Notification(
            notification_id=f"{query_id}:{params.get('respCode', '')}",
            payment_id=payment_id,
            provider_txn_id=query_id,
            amount_fen=amount,
            currency="CNY",
            status=trade_status(params.get("respCode", "")),
        )
