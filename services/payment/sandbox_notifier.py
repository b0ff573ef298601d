"""The sandbox provider's notifier: after its customer pays, it POSTs a signed notification to the
platform's notify URL, as a real provider does, and retries with backoff until it is acknowledged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import httpx

from services.payment.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, notification_body
from services.payment.store.sandbox import Sandbox
from services.runtime.records import utcnow

log = logging.getLogger(__name__)

# (body, headers) → whether the platform acknowledged the notification.
Deliver = Callable[[bytes, dict[str, str]], Awaitable[bool]]


def http_delivery(notify_url: str, ack_body: str) -> Deliver:
    async def deliver(body: bytes, headers: dict[str, str]) -> bool:
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(notify_url, content=body, headers=headers)
        return response.status_code == 200 and response.text.strip() == ack_body

    return deliver


class SandboxNotifier:
    def __init__(
        self, trades: Sandbox, provider: SandboxProvider, deliver: Deliver, *, poll_seconds: float = 0.5
    ) -> None:
        self.trades = trades
        self.provider = provider
        self.deliver = deliver
        self.poll_seconds = poll_seconds

    async def notify_once(self) -> int:
        """Send every due notification once; returns how many were acknowledged."""
        acknowledged = 0
        for trade in await self.trades.due(utcnow()):
            body = notification_body(
                notify_id=f"{trade.trade_no}:SUCCESS",  # retries carry the same id, as real providers' do
                payment_id=trade.payment_id,
                trade_no=trade.trade_no,
                amount_fen=trade.amount_fen,
                currency=trade.currency,
                status="SUCCESS",
                paid_at=trade.paid_at.isoformat() if trade.paid_at else "",
            )
            headers = {"content-type": "application/json", SIGNATURE_HEADER: self.provider.sign(body)}
            try:
                delivered = await self.deliver(body, headers)
            except httpx.HTTPError as exc:
                log.info(
                    "sandbox notification not delivered; will retry", extra={"error": type(exc).__name__}
                )
                delivered = False
            await self.trades.notified(trade.payment_id, delivered)
            acknowledged += int(delivered)
        return acknowledged

    async def run(self) -> None:
        while True:
            try:
                await self.notify_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sandbox notifier failed; retrying")
            await asyncio.sleep(self.poll_seconds)
