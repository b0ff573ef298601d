"""Sends requested refunds to the provider that took the money and records each provider's answer.
The sandbox refunds at once; Alipay and WeChat Pay are called through their refund APIs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from services.payment.providers.base import Provider
from services.payment.store.refunds import Refunds
from services.runtime.records import utcnow

log = logging.getLogger(__name__)


class RefundDispatcher:
    def __init__(
        self, refunds: Refunds, providers: Mapping[str, Provider], *, poll_seconds: float = 2.0
    ) -> None:
        self.refunds = refunds
        self.providers = providers
        self.poll_seconds = poll_seconds

    async def dispatch_once(self) -> int:
        """Ask each provider once about every open refund; returns how many were settled."""
        settled = 0
        for due in await self.refunds.to_send():
            send = getattr(self.providers.get(due.payment.method), "refund", None)
            if send is None:
                continue  # this provider has no refund API here: an agent settles it
            try:
                status = await send(
                    due.payment.id, due.refund.id, due.refund.amount_fen, due.payment.amount_fen, utcnow()
                )
            except Exception:
                log.exception("refund not sent; will retry", extra={"refund_id": due.refund.id})
                continue
            await self.refunds.settled(due.refund.id, status)
            settled += int(status in ("succeeded", "failed"))
        return settled

    async def run(self) -> None:
        while True:
            try:
                await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refund dispatcher failed; retrying")
            await asyncio.sleep(self.poll_seconds)
