"""The reason codes cancellations and refunds carry (booking, payment, documents and their workflows), in the
words people read, Chinese and English: notification writes them into its notices and the portal shows them
beside a cancelled booking, so both say the same. A reason that is not a code (what a person typed) is shown
as it is; people never read a key like `client_request` inside Chinese text.

A record that outlives an erasure request (payment's ledger and orders, a document order) keeps a reason as
a code only (`reason_code`): words a person typed may be personal data (R-PRIV-1), so they stay where
erasure reaches them (a refund row, the event)."""

from __future__ import annotations

import re
from typing import NamedTuple

REASON_LABELS: dict[str, tuple[str, str]] = {
    "client_request": ("应客户要求", "at the client's request"),
    "cancelled": ("由平台工作人员取消", "cancelled by staff"),
    "hold_expired": ("预留时段已过期", "the held time ran out"),
    "payment_timeout": ("未在时限内付款", "not paid in time"),
    "booking_cancelled": ("预约已取消", "the booking was cancelled"),
    "expired": ("已过期", "expired"),
    "fulfilment_failed": ("服务未能完成", "the service could not be delivered"),
    "fulfilment_not_served": ("服务未提供", "the service was not provided"),
    "fulfilment_cancelled": ("服务已取消", "the service was cancelled"),
    "agent_refund": ("客服办理退款", "refunded by customer service"),
}


class ReasonWords(NamedTuple):
    chinese: str
    english: str


def reason_words(reason: str) -> ReasonWords:
    """`reason` in words: each code of a composite reason (`booking_cancelled: client_request`, as the booking
    workflow refunds) by its label; a reason with any part that is not a code, as it is in both languages."""
    parts = [part.strip() for part in reason.split(":")]
    if not all(part in REASON_LABELS for part in parts):
        return ReasonWords(reason, reason)
    return ReasonWords(
        "：".join(REASON_LABELS[part][0] for part in parts),
        ": ".join(REASON_LABELS[part][1] for part in parts),
    )


# A reason code like `client_request` or `payment_timeout`; anything else is free text someone typed.
_REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")
STATED_REASON = "stated"


def reason_code(reason: str) -> str:
    """A cancellation's or refund's reason as a record erasure never changes may keep it: the code itself,
    or `stated` for free text."""
    return reason if _REASON_CODE.fullmatch(reason) else STATED_REASON
