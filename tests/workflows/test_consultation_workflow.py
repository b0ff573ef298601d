"""ConsultationWorkflow on the time-skipping test server: the quiet-period clock and the close signal
(R-CON-2 groundwork; every clock is a Temporal timer). Activities are fakes registered by name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.consultation import ConsultationWorkflow
from workflows.shared import (
    CloseConsultationInput,
    ConsultationOutcome,
    ConsultationWorkflowInput,
    RecordStageInput,
    consultation_workflow_id,
)


class FakeConsultationService:
    def __init__(self) -> None:
        self.stages: list[RecordStageInput] = []
        self.closed: list[CloseConsultationInput] = []
        self.closed_at: list[datetime] = []  # server time at which the close was scheduled

    @activity.defn(name="consultation.record_stage")
    async def record_stage(self, request: RecordStageInput) -> None:
        self.stages.append(request)

    @activity.defn(name="consultation.close")
    async def close(self, request: CloseConsultationInput) -> None:
        self.closed.append(request)
        self.closed_at.append(activity.info().current_attempt_scheduled_time)


@pytest.fixture(scope="module")
async def env(temporal_test_server_path: str) -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path, data_converter=pydantic_data_converter
    ) as environment:
        yield environment


async def start(env: WorkflowEnvironment, task_queue: str, **overrides: object) -> WorkflowHandle:
    consultation_id = uuid.uuid4().hex
    params = ConsultationWorkflowInput(
        consultation_id=consultation_id,
        tenant_id="tenant-1",
        kind="professional",
        submitted_at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
        reply_within=timedelta(hours=24),
        auto_close_after=timedelta(days=7),
    ).model_copy(update=overrides)
    return await env.client.start_workflow(
        ConsultationWorkflow.run, params, id=consultation_workflow_id(consultation_id), task_queue=task_queue
    )


async def test_quiet_consultation_closes_itself_after_the_quiet_period(env: WorkflowEnvironment) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ConsultationWorkflow],
        activities=[service.record_stage, service.close],
    ):
        before = await env.get_current_time()
        handle = await start(env, task_queue)
        outcome = await handle.result()

    assert outcome == ConsultationOutcome(
        consultation_id=outcome.consultation_id, closed_reason="quiet_period"
    )
    assert service.closed_at[0] - before >= timedelta(days=7)
    assert [s.stage for s in service.stages] == ["received"]
    # The reply due time is visible from the first stage on (submission + 24 h).
    assert service.stages[0].due_at == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert [c.reason for c in service.closed] == ["quiet_period"]


async def test_client_close_signal_ends_the_workflow_before_the_timer(env: WorkflowEnvironment) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ConsultationWorkflow],
        activities=[service.record_stage, service.close],
    ):
        before = await env.get_current_time()
        handle = await start(env, task_queue, kind="general", reply_within=None)
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        outcome = await handle.result()
        stage = await handle.query(ConsultationWorkflow.stage)

    assert outcome.closed_reason == "closed_by_client"
    assert stage == "closed"
    assert service.closed_at[0] - before < timedelta(hours=1)
    assert service.stages[0].due_at is None  # a general question carries no reply promise
    assert [c.reason for c in service.closed] == ["closed_by_client"]


async def test_a_second_close_does_not_change_the_recorded_reason(env: WorkflowEnvironment) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ConsultationWorkflow],
        activities=[service.record_stage, service.close],
    ):
        handle = await start(env, task_queue)
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        await handle.signal(ConsultationWorkflow.close, "closed_by_agent")
        outcome = await handle.result()

    assert outcome.closed_reason == "closed_by_client"
    assert len(service.closed) == 1
