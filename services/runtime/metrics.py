"""Prometheus metrics shared by every process, and the `/metrics` HTTP endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

GRPC_REQUESTS = Counter(
    "counsel_grpc_server_requests", "gRPC requests handled, by status code", ["service", "method", "code"]
)
GRPC_DURATION = Histogram(
    "counsel_grpc_server_duration_seconds",
    "gRPC handling time",
    ["service", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_REQUESTS = Counter(
    "counsel_http_requests", "HTTP requests handled by the gateway", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "counsel_http_request_duration_seconds",
    "HTTP handling time in the gateway",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
OUTBOX_PENDING = Gauge(
    "counsel_outbox_pending_events", "Committed events not yet acknowledged by JetStream", ["service"]
)
OUTBOX_LAG = Histogram(
    "counsel_outbox_relay_lag_seconds",
    "From the event's commit to JetStream's acknowledgement",
    ["service"],
    buckets=LATENCY_BUCKETS,
)
CONSUMER_EVENTS = Counter(
    "counsel_consumer_events", "Events handled by durable consumers", ["consumer", "outcome"]
)
# The number of deadlines running now, by kind, as the owning service's records say (a stage whose
# workflow is waiting on a Temporal timer): documents' acknowledge_30m (awaiting acknowledgement),
# delivery (first drafting), revision_window (delivered, window open); consultation's reply_24h (a reply
# promised and not given). Refreshed every SLA_TIMERS_REFRESH_SECONDS by `keep_sla_timers`; each
# process exports only its own kinds, so sum by kind across instances.
SLA_TIMERS_PENDING = Gauge(
    "counsel_sla_timers_pending", "Deadlines currently running (from the services' stage records)", ["kind"]
)
SLA_TIMERS_REFRESH_SECONDS = 15.0
SLA_BREACHES = Counter("counsel_sla_breaches", "Deadlines missed", ["kind"])
CHAT_ANSWERS = Counter(
    "counsel_chat_answers", "Client chat messages to the FAQ bot, by what answered them", ["by"]
)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve the default registry at http://host:port/metrics from a daemon thread (0 = don't)."""
    if port:
        start_http_server(port, addr=host)


async def refresh_sla_timers(count: Callable[[], Awaitable[Mapping[str, int]]], kinds: Sequence[str]) -> None:
    """Set counsel_sla_timers_pending{kind} for each of the service's `kinds` (0 when none is running)."""
    counts = await count()
    for kind in kinds:
        SLA_TIMERS_PENDING.labels(kind).set(counts.get(kind, 0))


async def keep_sla_timers(
    count: Callable[[], Awaitable[Mapping[str, int]]],
    kinds: Sequence[str],
    interval: float = SLA_TIMERS_REFRESH_SECONDS,
) -> None:
    """A service's background task: the gauge follows its records (a failed count keeps the last values
    and is logged; the next round tries again). Not a business clock: the deadlines are Temporal timers."""
    while True:
        try:
            await refresh_sla_timers(count, kinds)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not count open SLA timers", exc_info=True)
        await asyncio.sleep(interval)
