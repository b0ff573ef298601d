"""Prometheus metrics shared by every process, and the `/metrics` HTTP endpoint."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

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
SLA_TIMERS_PENDING = Gauge("counsel_sla_timers_pending", "Deadlines currently running", ["kind"])
SLA_BREACHES = Counter("counsel_sla_breaches", "Deadlines missed", ["kind"])
CHAT_ANSWERS = Counter(
    "counsel_chat_answers", "Client chat messages to the FAQ bot, by what answered them", ["by"]
)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve the default registry at http://host:port/metrics from a daemon thread (0 = don't)."""
    if port:
        start_http_server(port, addr=host)
