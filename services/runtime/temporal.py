"""The one Temporal client factory: pydantic payloads (timedelta and aware datetimes survive) sealed by the
payload codec (services/runtime/codec.py: no case text reaches the Temporal server in clear), SDK metrics
exported for Prometheus, the SDK core's logs in Python logging and the trace context in workflow headers; and the one way a service links its
events to its workflows (`start_once`, `signal_if_running`, `cancel_if_running`), used by each service's
`workflow_link.py` from an outbox consumer, so a change reaches its workflow only once it is committed and
always does, even if the process dies right after the commit."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import logging
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link
from temporalio import activity, client, worker, workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadConverter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.worker import PollerBehaviorAutoscaling

from services.runtime.codec import EncryptionCodec
from services.runtime.config import Settings, SettingsError
from services.runtime.events import NotYet
from services.runtime.keys import master_key
from services.runtime.tracing import extract, tracer, tracing_on

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


def temporal_tls(settings: Settings) -> TLSConfig | bool:
    """How this process reaches the Temporal frontend: mutual TLS with its own counsel certificate, or — only
    for a frontend on this machine's loopback (the dev server `counsel up` starts) or outside prod — plaintext.
    SettingsError in prod for plaintext to anywhere else: a workflow engine anyone can reach can be told to
    signal, cancel or terminate any order's process."""
    if not settings.temporal_tls:
        host = settings.temporal_address.rpartition(":")[0].strip("[]")
        if settings.env == "prod" and not _is_loopback(host):
            raise SettingsError(
                "COUNSEL_TEMPORAL_TLS must be on to reach Temporal beyond this machine in prod "
                f"(COUNSEL_TEMPORAL_ADDRESS is {settings.temporal_address})"
            )
        return False
    own = settings.tls()
    ca = own.ca
    if settings.temporal_tls_ca_file:
        try:
            ca = Path(settings.temporal_tls_ca_file).read_bytes()
        except OSError as exc:
            raise SettingsError(f"cannot read COUNSEL_TEMPORAL_TLS_CA_FILE: {exc}") from exc
    return TLSConfig(
        server_root_ca_cert=ca,
        client_cert=own.cert,
        client_private_key=own.key,
        domain=settings.temporal_tls_server_name or None,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic payloads sealed with this process's master key (MasterKeyError when it has none): what every
    client, worker and replayer of this deployment's workflows uses."""
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(master_key(settings)))


async def connect_temporal(settings: Settings) -> Client:
    """The client, and the workers built on it, carry the trace context through workflow starts, signals and
    activities (the SDK's OpenTelemetry interceptor) when this process records spans."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        runtime=_runtime_for(settings),
        tls=temporal_tls(settings),
        interceptors=[ContinuedTraces(), TracingInterceptor()] if tracing_on() else [],
    )


# Work a workflow schedules this long after it started follows a wait — a timer firing hours later, a signal
# the next day: it starts a trace of its own, linked to the trace of the request that started the workflow,
# rather than growing that trace for days. The request's own consequences (classify, assign) come sooner.
CONTINUES_LATER = timedelta(minutes=5)
# The header TracingInterceptor carries the trace context in (its `header_key`), and the one that carries it
# instead when later work only links to it.
TRACE_HEADER = "_tracer-data"
LINKED_TRACE_HEADER = "counsel-linked-trace"


class ContinuedTraces(client.Interceptor, worker.Interceptor):
    """Where a workflow continues later (CONTINUES_LATER), its activity starts a new trace with a span link to
    the workflow's. Comes before TracingInterceptor in the client's interceptors: its workflow side then sees
    the trace header TracingInterceptor has just added to an activity, and its activity side runs first."""

    def __init__(self, tracer: trace.Tracer | None = None) -> None:
        self.tracer = tracer

    def workflow_interceptor_class(
        self, input: worker.WorkflowInterceptorClassInput
    ) -> type[worker.WorkflowInboundInterceptor]:
        return _ContinuedTracesWorkflowInbound

    def intercept_activity(
        self, next: worker.ActivityInboundInterceptor
    ) -> worker.ActivityInboundInterceptor:
        return _LinkedTraceActivityInbound(next, self.tracer or tracer())


class _ContinuedTracesWorkflowInbound(worker.WorkflowInboundInterceptor):
    def init(self, outbound: worker.WorkflowOutboundInterceptor) -> None:
        super().init(_ContinuedTracesWorkflowOutbound(outbound))


class _ContinuedTracesWorkflowOutbound(worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: worker.StartActivityInput) -> workflow.ActivityHandle[Any]:
        context = input.headers.get(TRACE_HEADER)
        if context is not None and workflow.now() - workflow.info().start_time >= CONTINUES_LATER:
            headers = {key: value for key, value in input.headers.items() if key != TRACE_HEADER}
            input.headers = headers | {LINKED_TRACE_HEADER: context}
        return super().start_activity(input)


class _LinkedTraceActivityInbound(worker.ActivityInboundInterceptor):
    def __init__(self, next: worker.ActivityInboundInterceptor, tracer: trace.Tracer) -> None:
        super().__init__(next)
        self.tracer = tracer

    async def execute_activity(self, input: worker.ExecuteActivityInput) -> Any:
        linked = input.headers.get(LINKED_TRACE_HEADER)
        if linked is None:
            return await super().execute_activity(input)
        carrier = PayloadConverter.default.from_payloads([linked])[0]
        workflow_span = trace.get_current_span(extract(carrier)).get_span_context()
        info = activity.info()
        with self.tracer.start_as_current_span(
            f"ContinueWorkflow:{info.workflow_type}",
            context=Context(),  # a root: the trace of what the workflow does now
            links=[Link(workflow_span)],
            attributes={"temporalWorkflowID": info.workflow_id or ""},
        ):
            return await super().execute_activity(input)


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


async def start_once(
    client: Client,
    workflow: str,
    arg: Any,
    *,
    id: str,
    task_queue: str,
    start_signal: str | None = None,
    start_signal_args: Sequence[Any] = (),
) -> None:
    """Start `workflow` (a name from workflows.shared) as `id`, unless a workflow with that id ever ran: the id
    is the business id, so a redelivered event starts nothing twice. With `start_signal` the signal is
    delivered in the same call (signal-with-start), to the running workflow when there is one."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            workflow,
            arg,
            id=id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal=start_signal,
            start_signal_args=start_signal_args,
        )


async def signal_if_running(client: Client, workflow_id: str, signal: str, *args: Any) -> bool:
    """Send `signal` (with its argument, if any) to the workflow `workflow_id`. False when that workflow has
    finished (nothing is left to tell it). NotYet when it has not started yet, so the consumer's event is
    redelivered until it has (events of one aggregate may be consumed out of order)."""
    handle = client.get_workflow_handle(workflow_id)
    return await _if_running(handle, handle.signal(signal, args=args))


async def cancel_if_running(client: Client, workflow_id: str) -> bool:
    """Cancel the workflow `workflow_id` (a Temporal cancellation: its timers stop and it ends as cancelled);
    False when it had finished already, and raises like `signal_if_running` when it has not started."""
    handle = client.get_workflow_handle(workflow_id)
    return await _if_running(handle, handle.cancel())


async def _if_running(handle: WorkflowHandle[Any, Any], call: Awaitable[None]) -> bool:
    try:
        await call
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        # A closed workflow takes no signal; neither does one not started yet, and describing it tells which.
        # Running by the time it is described, it was started in between (by the consumer of the event that
        # starts it): early all the same, and the next delivery reaches it.
        try:
            description = await handle.describe()
        except RPCError as unknown:
            if unknown.status != RPCStatusCode.NOT_FOUND:
                raise
            raise NotYet(f"workflow {handle.id} has not started yet") from unknown
        if description.status == WorkflowExecutionStatus.RUNNING:
            raise NotYet(f"workflow {handle.id} started only now") from exc
        return False
    return True
