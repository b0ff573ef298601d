"""The one Temporal client factory: pydantic payloads (timedelta and aware datetimes survive), SDK metrics
exported for Prometheus and the SDK core's logs in Python logging."""

from __future__ import annotations

import logging
from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.worker import PollerBehaviorAutoscaling

from services.runtime.config import Settings

# The SDK core's own log lines (warnings and up) go through Python logging, so they are JSON lines on stderr
# like every other log; left to itself the core prints coloured text to stdout, and a process whose stdout is
# a pipe nobody drains blocks in that write and stops polling.
CORE_LOGGER = logging.getLogger("temporalio.core")

_runtime: Runtime | None = None


def _runtime_for(settings: Settings) -> Runtime:
    # One Runtime per process: the SDK binds its exporter once.
    global _runtime
    if _runtime is None:
        metrics = (
            PrometheusConfig(
                bind_address=f"{settings.metrics_host}:{settings.temporal_metrics_port}",
                counters_total_suffix=True,
                durations_as_seconds=True,
            )
            if settings.temporal_metrics_port
            else None
        )
        _runtime = Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                    forwarding=LogForwardingConfig(logger=CORE_LOGGER),
                ),
                metrics=metrics,
            )
        )
    return _runtime


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=_runtime_for(settings),
    )


def worker_options(settings: Settings) -> dict[str, Any]:
    """The Worker's tuning, shared by the platform's worker and the benchmark's, so what is measured is
    what runs. With the SDK defaults (5 pollers, 1,000 cached workflows) a burst of due timers or starts
    waited minutes for a poller while the worker idled; autoscaling pollers follow the backlog the server
    reports, and a large cache spares each task a full history replay."""
    return {
        "max_cached_workflows": settings.temporal_max_cached_workflows,
        "max_concurrent_workflow_tasks": settings.temporal_max_concurrent_workflow_tasks,
        "max_concurrent_activities": settings.temporal_max_concurrent_activities,
        "workflow_task_poller_behavior": PollerBehaviorAutoscaling(
            minimum=2, maximum=settings.temporal_max_workflow_task_pollers, initial=5
        ),
        "activity_task_poller_behavior": PollerBehaviorAutoscaling(
            minimum=1, maximum=settings.temporal_max_activity_task_pollers, initial=5
        ),
    }
