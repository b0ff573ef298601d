"""Prometheus metrics shared by every process, and the `/metrics` HTTP endpoint."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from sqlalchemy import ColumnElement, case, event
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.records import utcnow

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
OUTBOX_OLDEST_AGE = Gauge(
    "counsel_outbox_oldest_pending_age_seconds",
    "Age of the oldest committed event not yet acknowledged by JetStream (0 when none)",
    ["service"],
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
# The early warning: of those, the ones with less than AT_RISK_SHARE of their time left whose awaited act
# has not begun (no acknowledgement, no draft in review, no reply), overdue ones included.
SLA_TIMERS_AT_RISK = Gauge(
    "counsel_sla_timers_at_risk",
    "Deadlines running with less than a quarter of their time left and nobody working them",
    ["kind"],
)
AT_RISK_SHARE = 0.25
# When the running deadlines fall due, for the workflow dashboard's "timers pending by due hour": each clock
# counts once, in the first bucket its due time fits (`overdue`, then within 1 h, 2 h, ... from now, `later`).
SLA_TIMERS_DUE = Gauge(
    "counsel_sla_timers_due",
    "Deadlines currently running, by how soon they fall due (hours from now; overdue ones apart)",
    ["kind", "due_in"],
)
DUE_IN_HOURS = (1, 2, 4, 8, 24, 72)
DUE_IN = ("overdue", *(f"{hours}h" for hours in DUE_IN_HOURS), "later")
SLA_TIMERS_REFRESH_SECONDS = 15.0
# Every missed clock, extensions after a breach included: each one escalates or reassigns.
SLA_BREACHES = Counter("counsel_sla_breaches", "Deadlines missed", ["kind"])
# Every promise with a clock ends once with one outcome, counted by the service that owns it when the outcome
# is decided (under the lock of the row the clock runs on, after commit): `kept` when the awaited act came
# first, `missed` when the clock ran out first; a clock whose order or booking is cancelled first has none.
# The SLOs (docs/runbooks.md#slos) are kept ratios of these; the platform's promises are acknowledge_30m,
# delivery, reply_24h and complaint_response, the client's own clocks (revision_window, payment_hold, booking_hold) are counted
# the same way for the dashboards. `tier` is the document complexity, UNTIERED for clocks without tiers.
SLA_DEADLINES = Counter(
    "counsel_sla_deadlines", "Deadlines decided, by clock, tier and outcome", ["kind", "tier", "outcome"]
)
DEADLINE_OUTCOMES = ("kept", "missed")
UNTIERED = "all"
CHAT_ANSWERS = Counter(
    "counsel_chat_answers", "Client chat messages to the FAQ bot, by what answered them", ["by"]
)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve the default registry at http://host:port/metrics from a daemon thread (0 = don't)."""
    if port:
        start_http_server(port, addr=host)


def export_deadlines(clocks: Iterable[tuple[str, str]]) -> None:
    """Export counsel_sla_deadlines_total{kind, tier, outcome} at 0 for each of the service's (kind, tier)
    clocks and every outcome, so that the first decision of a process is an increase an alert can see."""
    for kind, tier in clocks:
        for outcome in DEADLINE_OUTCOMES:
            SLA_DEADLINES.labels(kind, tier, outcome)


def count_deadline(session: AsyncSession, kind: str, tier: str, *, kept: bool) -> None:
    """Count one promise's outcome when `session` (the transaction that decided it) commits: a rolled-back
    attempt and its retry count once."""
    sample = SLA_DEADLINES.labels(kind, tier, "kept" if kept else "missed")
    event.listen(session.sync_session, "after_commit", lambda _session: sample.inc(), once=True)


def due_in(due: Any, now: datetime) -> ColumnElement[str]:
    """SQL naming the DUE_IN bucket of a due time, for a GROUP BY."""
    return case(
        (due < now, DUE_IN[0]),
        *(
            (due <= now + timedelta(hours=hours), label)
            for hours, label in zip(DUE_IN_HOURS, DUE_IN[1:-1], strict=True)
        ),
        else_=DUE_IN[-1],
    )


class SlaClocks(Protocol):
    """What a service's records say about its running deadlines (the store of the aggregate the clocks run on)."""

    async def open_timers(self) -> Mapping[str, int]:
        """kind → deadlines running now."""

    async def timers_at_risk(self) -> Mapping[str, int]:
        """kind → of those, the ones with little time left and nobody working them."""

    async def timers_due(self, now: datetime) -> Mapping[tuple[str, str], int]:
        """(kind, DUE_IN bucket) → deadlines running now that fall due then."""


async def refresh_sla_timers(clocks: SlaClocks, kinds: Sequence[str]) -> None:
    """Set the SLA timer gauges for each of the service's `kinds` (0 where the records have none)."""
    pending, at_risk, due = (
        await clocks.open_timers(),
        await clocks.timers_at_risk(),
        await clocks.timers_due(utcnow()),
    )
    for kind in kinds:
        SLA_TIMERS_PENDING.labels(kind).set(pending.get(kind, 0))
        SLA_TIMERS_AT_RISK.labels(kind).set(at_risk.get(kind, 0))
        for bucket in DUE_IN:
            SLA_TIMERS_DUE.labels(kind, bucket).set(due.get((kind, bucket), 0))


async def keep_sla_timers(
    clocks: SlaClocks, kinds: Sequence[str], interval: float = SLA_TIMERS_REFRESH_SECONDS
) -> None:
    """A service's background task: counsel_sla_timers_pending, _at_risk and _due follow its records (a
    failed count keeps the last values and is logged; the next round tries again). Not a business clock:
    the deadlines are Temporal timers."""
    while True:
        try:
            await refresh_sla_timers(clocks, kinds)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("could not count open SLA timers", exc_info=True)
        await asyncio.sleep(interval)
