"""The Grafana dashboards, from one source: `python -m deploy.grafana.generate` writes
deploy/grafana/dashboards/*.json (committed; a unit test fails when they differ from what this writes, and
`--check` says so too). The chart ships the same files as ConfigMaps for Grafana's sidecar
(charts/counsel/templates/dashboards.yaml). Every query reads metrics the processes export, the recording
rules of deploy/prometheus/alerts.yaml, or the exporters docs/runbooks.md#exporters names."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    queries: tuple[Query, ...]
    description: str = ""
    width: int = 8
    height: int = 8
    kind: str = "timeseries"  # or "stat" (instant, over the dashboard's range) or "table"
    stacked: bool = False


@dataclass(frozen=True)
class Row:
    title: str


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    items: tuple[Row | Panel, ...]
    variables: tuple[dict[str, Any], ...] = field(default=())


def q(expr: str, legend: str = "") -> tuple[Query, ...]:
    return (Query(expr, legend),)


RATE = "$__rate_interval"
SERVICE_VARIABLE = {
    "name": "service",
    "label": "gRPC service",
    "type": "query",
    "datasource": DATASOURCE,
    "definition": "label_values(counsel_grpc_server_requests_total, service)",
    "query": {
        "qryType": 1,
        "query": "label_values(counsel_grpc_server_requests_total, service)",
        "refId": "PrometheusVariableQueryEditor-VariableQuery",
    },
    "current": {},
    "hide": 0,
    "includeAll": True,
    "allValue": ".*",
    "multi": True,
    "options": [],
    "refresh": 2,
    "regex": "",
    "sort": 1,
    "skipUrlSync": False,
}
GRPC_ERRORS = 'code=~"(?i)internal|unknown|unavailable"'

# The SLO dashboard's key queries: deploy/prometheus/tests/slo-dashboard.yaml evaluates each of them on
# recorded series (a unit test checks it does).
SLO_KEPT = "counsel:sla_deadlines_kept:ratio_rate28d"
SLO_BUDGET_LEFT = "counsel:sla_error_budget_remaining:ratio_rate28d"
SLO_DECIDED_PER_DAY = "sum by (kind, tier, outcome) (increase(counsel_sla_deadlines_total[1d]))"
SLO_QUERIES = (SLO_KEPT, SLO_BUDGET_LEFT, SLO_DECIDED_PER_DAY)

OVERVIEW = Dashboard(
    "counsel-overview",
    "counsel overview",
    "counsel: RED per gRPC service and gateway route, outbox and consumers, SLA timers, Temporal.",
    (
        Row("gRPC services — rate, errors, duration"),
        Panel(
            "gRPC requests / s by service",
            "reqps",
            q(
                f'sum by (service) (rate(counsel_grpc_server_requests_total{{service=~"$service"}}[{RATE}]))',
                "{{service}}",
            ),
        ),
        Panel(
            "gRPC error ratio by service (Internal, Unknown, Unavailable)",
            "percentunit",
            q(
                f'sum by (service) (rate(counsel_grpc_server_requests_total{{service=~"$service", {GRPC_ERRORS}}}[{RATE}]))'
                f'\n/\nsum by (service) (rate(counsel_grpc_server_requests_total{{service=~"$service"}}[{RATE}]))',
                "{{service}}",
            ),
        ),
        Panel(
            "gRPC latency p95 / p99 by service",
            "s",
            tuple(
                Query(
                    f"histogram_quantile({p}, sum by (service, le) (rate("
                    f'counsel_grpc_server_duration_seconds_bucket{{service=~"$service"}}[{RATE}])))',
                    f"p{int(p * 100)} {{{{service}}}}",
                )
                for p in (0.95, 0.99)
            ),
        ),
        Panel(
            "gRPC requests / s by method and code",
            "reqps",
            q(
                f'sum by (service, method, code) (rate(counsel_grpc_server_requests_total{{service=~"$service"}}[{RATE}]))',
                "{{service}} {{method}} {{code}}",
            ),
            width=12,
        ),
        Panel(
            "gRPC latency p99 by method",
            "s",
            q(
                "histogram_quantile(0.99, sum by (service, method, le) (rate("
                f'counsel_grpc_server_duration_seconds_bucket{{service=~"$service"}}[{RATE}])))',
                "{{service}} {{method}}",
            ),
            width=12,
        ),
        Row("Gateway (HTTP) — rate, errors, duration"),
        Panel(
            "HTTP requests / s by route",
            "reqps",
            q(f"sum by (method, route) (rate(counsel_http_requests_total[{RATE}]))", "{{method}} {{route}}"),
        ),
        Panel(
            "HTTP 5xx ratio by route",
            "percentunit",
            q(
                f'sum by (route) (rate(counsel_http_requests_total{{status=~"5.."}}[{RATE}]))'
                f"\n/\nsum by (route) (rate(counsel_http_requests_total[{RATE}]))",
                "{{route}}",
            ),
        ),
        Panel(
            "HTTP latency p95 / p99",
            "s",
            (
                Query(
                    f"histogram_quantile(0.95, sum by (le) (rate(counsel_http_request_duration_seconds_bucket[{RATE}])))",
                    "p95 all routes",
                ),
                Query(
                    f"histogram_quantile(0.99, sum by (le) (rate(counsel_http_request_duration_seconds_bucket[{RATE}])))",
                    "p99 all routes",
                ),
            ),
        ),
        Row("Events — outbox and consumers"),
        Panel(
            "Outbox events pending by service",
            "short",
            q('sum by (service) (counsel_outbox_pending_events{service=~"$service"})', "{{service}}"),
        ),
        Panel(
            "Oldest unrelayed event by service",
            "s",
            q(
                'max by (service) (counsel_outbox_oldest_pending_age_seconds{service=~"$service"})',
                "{{service}}",
            ),
        ),
        Panel(
            "Outbox relay lag p99 by service",
            "s",
            q(
                "histogram_quantile(0.99, sum by (service, le) (rate("
                f'counsel_outbox_relay_lag_seconds_bucket{{service=~"$service"}}[{RATE}])))',
                "{{service}}",
            ),
        ),
        Row("SLA — timers and breaches"),
        Panel(
            "SLA timers pending by kind",
            "short",
            q("sum by (kind) (counsel_sla_timers_pending)", "{{kind}}"),
            width=12,
        ),
        Panel(
            "SLA breaches by kind",
            "short",
            q(f"sum by (kind) (increase(counsel_sla_breaches_total[{RATE}]))", "{{kind}}"),
            width=12,
        ),
        Row("Targets and payment"),
        Panel(
            "Scrape targets up by component",
            "short",
            q(
                'sum by (app_kubernetes_io_component) (up{app_kubernetes_io_part_of="counsel"})',
                "{{app_kubernetes_io_component}}",
            ),
            width=12,
        ),
        Panel(
            "Payment anomalies by provider",
            "short",
            (
                Query(
                    f"sum by (provider) (increase(counsel_payment_amount_mismatches_total[{RATE}]))",
                    "amount mismatch {{provider}}",
                ),
                Query(
                    f"sum by (provider) (increase(counsel_payment_unapplied_payments_total[{RATE}]))",
                    "unapplied {{provider}}",
                ),
                Query(f"sum(increase(counsel_payment_refused_refunds_total[{RATE}]))", "refund refused"),
            ),
            width=12,
        ),
    ),
    (SERVICE_VARIABLE,),
)

SLOS = Dashboard(
    "counsel-slos",
    "counsel SLOs",
    "The deadlines of the standard as SLOs (docs/runbooks.md#slos): kept share and error budget left over "
    "28 days per clock and tier, burn rates, clocks at risk.",
    (
        Row("Over the SLO's 28 days"),
        Panel(
            "Kept share by clock (28 days)",
            "percentunit",
            q(SLO_KEPT, "{{kind}} {{tier}}"),
            "Deadlines kept / deadlines decided. Objectives: acknowledge_30m and complaint_response 99 %, "
            "reply_24h and delivery 99.5 %.",
            width=12,
            kind="stat",
        ),
        Panel(
            "Error budget left by clock (28 days)",
            "percentunit",
            q(SLO_BUDGET_LEFT, "{{kind}} {{tier}}"),
            "1 = untouched, 0 = spent, below 0 = the objective is broken.",
            width=12,
            kind="stat",
        ),
        Row("Now"),
        Panel(
            "Missed share, 1 h window (fast burn above 14.4 × budget)",
            "percentunit",
            q("counsel:sla_deadlines_missed:ratio_rate1h", "{{kind}} {{tier}}"),
        ),
        Panel(
            "Deadlines decided per day by outcome",
            "short",
            q(SLO_DECIDED_PER_DAY, "{{kind}} {{tier}} {{outcome}}"),
        ),
        Panel(
            "Clocks at risk (under a quarter of their time left, nobody on them)",
            "short",
            q("sum by (kind) (counsel_sla_timers_at_risk)", "{{kind}}"),
        ),
    ),
)

WORKFLOWS = Dashboard(
    "counsel-workflows",
    "counsel workflows",
    "Temporal as the worker sees it (SDK metrics) and the clocks the services' records show running.",
    (
        Row("Workflows"),
        Panel(
            "Open clocks by kind (workflows waiting on a timer)",
            "short",
            q("sum by (kind) (counsel_sla_timers_pending)", "{{kind}}"),
            "From the services' records, refreshed every 15 s; each open workflow with a clock counts once.",
            stacked=True,
        ),
        Panel(
            "Timers pending by due hour",
            "short",
            q("sum by (due_in) (counsel_sla_timers_due)", "{{due_in}}"),
            "How soon the running clocks fall due: overdue, then within 1, 2, 4, 8, 24 and 72 hours, later. A band"
            " swelling toward the top is work bunching up before it is late.",
            stacked=True,
        ),
        Panel(
            "Workflows cached in the worker",
            "short",
            q("sum by (task_queue) (temporal_sticky_cache_size)", "{{task_queue}}"),
        ),
        Panel(
            "Workflows completed / failed per minute",
            "short",
            (
                Query(
                    "sum by (workflow_type) (increase(temporal_workflow_completed_total[1m]))",
                    "{{workflow_type}} completed",
                ),
                Query(
                    "sum by (workflow_type) (increase(temporal_workflow_failed_total[1m]))",
                    "{{workflow_type}} failed",
                ),
            ),
        ),
        Row("Tasks"),
        Panel(
            "Workflow task schedule-to-start p99 by task queue",
            "s",
            q(
                "histogram_quantile(0.99, sum by (task_queue, le) (rate("
                f"temporal_workflow_task_schedule_to_start_latency_bucket[{RATE}])))",
                "{{task_queue}}",
            ),
        ),
        Panel(
            "Activity task schedule-to-start p99 by task queue",
            "s",
            q(
                "histogram_quantile(0.99, sum by (task_queue, le) (rate("
                f"temporal_activity_schedule_to_start_latency_bucket[{RATE}])))",
                "{{task_queue}}",
            ),
        ),
        Panel(
            "Workflow task failures / s",
            "ops",
            q(
                f"sum by (workflow_type) (rate(temporal_workflow_task_execution_failed_total[{RATE}]))",
                "{{workflow_type}}",
            ),
        ),
        Panel(
            "Activity failures / s by activity",
            "ops",
            q(
                f"sum by (activity_type) (rate(temporal_activity_execution_failed_total[{RATE}]))",
                "{{activity_type}}",
            ),
        ),
        Panel(
            "Temporal frontend error ratio",
            "percentunit",
            q(
                f'sum(rate(service_error_with_type{{service_name="frontend"}}[{RATE}]))'
                f'\n/\nsum(rate(service_requests{{service_name="frontend"}}[{RATE}]))',
                "frontend",
            ),
            width=24,
        ),
    ),
)

EVENT_BUS = Dashboard(
    "counsel-event-bus",
    "counsel event bus",
    "The outboxes and the COUNSEL stream: what is published, and how far behind each durable consumer is.",
    (
        Panel(
            "Published / s by service (relayed from the outbox)",
            "ops",
            q(f"sum by (service) (rate(counsel_outbox_relay_lag_seconds_count[{RATE}]))", "{{service}}"),
        ),
        Panel(
            "Messages into NATS / s by server",
            "ops",
            q(f"sum by (server_id) (rate(gnatsd_varz_in_msgs[{RATE}]))", "{{server_id}}"),
        ),
        Panel(
            "NATS servers not healthy",
            "short",
            q("sum(gnatsd_healthz_status)", "unhealthy"),
        ),
        Panel(
            "Consumer lag by durable (undelivered events)",
            "short",
            q(
                'max by (consumer_name) (jetstream_consumer_num_pending{stream_name="COUNSEL"})',
                "{{consumer_name}}",
            ),
            width=12,
        ),
        Panel(
            "Redelivered events outstanding by durable",
            "short",
            q(
                'max by (consumer_name) (jetstream_consumer_num_redelivered{stream_name="COUNSEL"})',
                "{{consumer_name}}",
            ),
            width=12,
        ),
        Panel(
            "Consumer outcomes / s",
            "ops",
            q(
                f"sum by (consumer, outcome) (rate(counsel_consumer_events_total[{RATE}]))",
                "{{consumer}} {{outcome}}",
            ),
            width=24,
        ),
    ),
)

DATABASE = Dashboard(
    "counsel-database",
    "counsel database",
    "PostgreSQL (postgres_exporter, Patroni): connections, transactions, replication lag, the primary.",
    (
        Panel(
            "Connections by database",
            "short",
            q("sum by (datname) (pg_stat_database_numbackends)", "{{datname}}"),
        ),
        Panel(
            "Connections used of max_connections by member",
            "percentunit",
            q(
                "sum by (instance) (pg_stat_database_numbackends) / on (instance) max by (instance) (pg_settings_max_connections)",
                "{{instance}}",
            ),
        ),
        Panel(
            "Transactions / s by database",
            "ops",
            (
                Query(f"sum by (datname) (rate(pg_stat_database_xact_commit[{RATE}]))", "{{datname}} commit"),
                Query(
                    f"sum by (datname) (rate(pg_stat_database_xact_rollback[{RATE}]))", "{{datname}} rollback"
                ),
            ),
        ),
        Panel(
            "Replication lag by replica",
            "s",
            q("max by (instance) (pg_replication_lag_seconds)", "{{instance}}"),
            width=12,
        ),
        Panel(
            "Primary and timeline",
            "short",
            (
                Query("max by (scope, name) (patroni_primary)", "primary {{name}}"),
                Query("max by (scope) (patroni_postgres_timeline)", "timeline {{scope}}"),
            ),
            width=12,
        ),
    ),
)

NOTIFICATIONS = Dashboard(
    "counsel-notifications",
    "counsel notifications",
    "Outbound deliveries by channel: sent, retried, given up (fell back to the inbox), and direct sends "
    "such as login codes.",
    (
        Panel(
            "Deliveries / s by channel and outcome",
            "ops",
            q(
                f"sum by (channel, outcome) (rate(counsel_notification_deliveries_total[{RATE}]))",
                "{{channel}} {{outcome}}",
            ),
            width=12,
            stacked=True,
        ),
        Panel(
            "Login codes and other direct sends failed (time range)",
            "short",
            q(
                'sum by (channel) (increase(counsel_notification_deliveries_total{outcome="failed_direct"}[$__range]))',
                "{{channel}}",
            ),
            width=12,
            kind="stat",
        ),
        Panel(
            "Share given up by channel",
            "percentunit",
            q(
                f'sum by (channel) (rate(counsel_notification_deliveries_total{{outcome="fell_back"}}[{RATE}]))'
                f'\n/\nsum by (channel) (rate(counsel_notification_deliveries_total{{outcome=~"sent|fell_back"}}[{RATE}]))',
                "{{channel}}",
            ),
            width=24,
        ),
    ),
)

DASHBOARDS = (OVERVIEW, SLOS, WORKFLOWS, EVENT_BUS, DATABASE, NOTIFICATIONS)


def _target(index: int, query: Query, instant: bool) -> dict[str, Any]:
    target: dict[str, Any] = {
        "refId": chr(ord("A") + index),
        "datasource": DATASOURCE,
        "expr": query.expr,
        "legendFormat": query.legend,
        "range": not instant,
    }
    if instant:
        target["instant"] = True
    return target


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    instant = panel.kind == "stat"
    rendered: dict[str, Any] = {
        "type": panel.kind,
        "id": panel_id,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": [_target(i, query, instant) for i, query in enumerate(panel.queries)],
    }
    if instant:
        rendered["fieldConfig"] = {"defaults": {"unit": panel.unit}, "overrides": []}
        rendered["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "none",
            "textMode": "auto",
        }
    else:
        custom = {"fillOpacity": 10, "showPoints": "never"}
        custom["stacking"] = {"mode": "normal" if panel.stacked else "none", "group": "A"}
        rendered["fieldConfig"] = {"defaults": {"unit": panel.unit, "custom": custom}, "overrides": []}
        rendered["options"] = {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return rendered


def render(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard's JSON model: rows full width, panels left to right, wrapping at the grid's width."""
    panels: list[dict[str, Any]] = []
    x = y = row_height = 0
    for panel_id, item in enumerate(dashboard.items, start=1):
        if isinstance(item, Row):
            y += row_height
            x, row_height = 0, 0
            grid = {"h": 1, "w": WIDTH, "x": 0, "y": y}
            panels.append(
                {
                    "type": "row",
                    "id": panel_id,
                    "title": item.title,
                    "collapsed": False,
                    "gridPos": grid,
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.width > WIDTH:
            y += row_height
            x, row_height = 0, 0
        panels.append(_panel(item, panel_id, x, y))
        x += item.width
        row_height = max(row_height, item.height)
    datasource = {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "includeAll": False,
        "multi": False,
        "options": [],
        "skipUrlSync": False,
    }
    return {
        "annotations": {"list": []},
        "description": dashboard.description,
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["counsel"],
        "templating": {"list": [datasource, *dashboard.variables]},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": dashboard.title,
        "uid": dashboard.uid,
        "version": 1,
        "weekStart": "",
    }


def files() -> dict[Path, str]:
    """Each dashboard's file and text, as committed."""
    return {
        OUT / f"{dashboard.uid}.json": json.dumps(render(dashboard), indent=2, ensure_ascii=False) + "\n"
        for dashboard in DASHBOARDS
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed files differ")
    args = parser.parse_args(argv)
    wanted = files()
    stale = [
        path for path, text in wanted.items() if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    extra = [path for path in OUT.glob("*.json") if path not in wanted]
    if args.check:
        for path in stale + extra:
            print(f"out of date: {path} (run python -m deploy.grafana.generate)", file=sys.stderr)
        return 1 if stale or extra else 0
    for path, text in wanted.items():
        path.write_text(text, encoding="utf-8")
    for path in extra:
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
