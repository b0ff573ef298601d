"""Online banking (网银) through a UnionPay-style gateway: a signed form redirect out, a signed form back.

The signature (signMethod 01) is RSA SHA256 over the lowercase hex SHA-256 of the parameters sorted by
name as `k=v&…` (leaving out `signature`), Base64-encoded; the bank answers with `respCode` 00 for
success and amounts in fen (`txnAmt`). The notification is acknowledged with `ok`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode

from services.payment.providers.base import (
    Ack,
    Checkout,
    InvalidNotification,
    Notification,
    load_private_key,
    load_public_key,
    rsa_sha256_sign,
    rsa_sha256_verify,
    sorted_params,
)

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class BankConfig:
    mer_id: str
    merchant_private_key_pem: str
    bank_public_key_pem: str
    front_url: str = "https://gateway.95516.com/gateway/api/frontTransReq.do"


def signing_digest(params: Mapping[str, str]) -> bytes:
    return hashlib.sha256(sorted_params(params, exclude=("signature",)).encode()).hexdigest().encode()


def sign_params(params: Mapping[str, str], private_key_pem: str) -> str:
    return rsa_sha256_sign(load_private_key(private_key_pem), signing_digest(params))


class BankProvider:
    name = "bank"
    ack = Ack("ok", "text/plain; charset=utf-8")

    def __init__(self, config: BankConfig) -> None:
        self.config = config
        self._public_key = load_public_key(config.bank_public_key_pem)

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
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidNotification("the body is not a form") from exc
        if not params.get("signature") or params.get("signMethod") != "01":
            raise InvalidNotification("the notification is not signed with signMethod 01")
        rsa_sha256_verify(self._public_key, signing_digest(params), params["signature"])
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
            status="paid" if params.get("respCode") == "00" else "closed",
        )
