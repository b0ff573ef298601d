"""The one Temporal client factory: pydantic payloads (timedelta and aware datetimes survive) and SDK
metrics exported for Prometheus."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from services.runtime.config import Settings

_runtime: Runtime | None = None


def _metrics_runtime(settings: Settings) -> Runtime | None:
    # One Runtime per process: the SDK binds its exporter once.
    global _runtime
    if settings.temporal_metrics_port and _runtime is None:
        _runtime = Runtime(
            telemetry=TelemetryConfig(
                metrics=PrometheusConfig(
                    bind_address=f"{settings.metrics_host}:{settings.temporal_metrics_port}",
                    counters_total_suffix=True,
                    durations_as_seconds=True,
                )
            )
        )
    return _runtime


async def connect_temporal(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        runtime=_metrics_runtime(settings),
    )
