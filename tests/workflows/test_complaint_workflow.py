"""ComplaintWorkflow on the time-skipping test server (R-CS-3, §6.1.4.4): the 24 h response clock is a
Temporal timer; a breach escalates to the supervisors once, a resolution in time stops the clock, a reopen
starts a new one, and a resolution the client leaves unanswered for 7 days closes the complaint. The
consultation service's activities are fakes registered by name; each test has its own task queue."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.complaints import ComplaintWorkflow
from workflows.shared import (
    ComplaintOutcome,
    ComplaintReopened,
    ComplaintWorkflowInput,
    EscalateComplaintInput,
    complaint_workflow_id,
)

RESPONSE_WITHIN = timedelta(hours=24)
ANSWER_WITHIN = timedelta(days=7)


class FakeComplaintService:
    def __init__(self) -> None:
        self.escalations: list[EscalateComplaintInput] = []
        self.escalated_at: list[datetime] = []
        self.closed: list[str] = []
        self.closed_at: list[datetime] = []

    @activity.defn(name="consultation.escalate_complaint")
    async def escalate_complaint(self, request: EscalateComplaintInput) -> bool:
        self.escalations.append(request)
        self.escalated_at.append(activity.info().current_attempt_scheduled_time)
        return True

    @activity.defn(name="consultation.close_complaint")
    async def close_complaint(self, complaint_id: str) -> str:
        self.closed.append(complaint_id)
        self.closed_at.append(activity.info().current_attempt_scheduled_time)
        return "closed"


class Complaint:
    """One running complaint and the people around it."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, due_at: datetime) -> None:
        self.env = env
        self.handle = handle
        self.due_at = due_at

    async def resolve(self) -> None:
        await self.handle.signal(ComplaintWorkflow.resolved)

    async def reopen(self) -> datetime:
        due_at = await self.env.get_current_time() + RESPONSE_WITHIN
        await self.handle.signal(ComplaintWorkflow.reopened, ComplaintReopened(due_at=due_at))
        return due_at

    async def accept(self) -> None:
        await self.handle.signal(ComplaintWorkflow.closed)

    async def state(self) -> str:
        return await self.handle.query(ComplaintWorkflow.state)

    async def breaches(self) -> int:
        return await self.handle.query(ComplaintWorkflow.breaches)

    async def outcome(self) -> ComplaintOutcome:
        return await self.handle.result()


async def raise_complaint(env: WorkflowEnvironment, task_queue: str) -> Complaint:
    complaint_id = uuid.uuid4().hex
    due_at = await env.get_current_time() + RESPONSE_WITHIN
    handle = await env.client.start_workflow(
        ComplaintWorkflow.run,
        ComplaintWorkflowInput(
            complaint_id=complaint_id, tenant_id="tenant-1", due_at=due_at, answer_within=ANSWER_WITHIN
        ),
        id=complaint_workflow_id(complaint_id),
        task_queue=task_queue,
    )
    return Complaint(env, handle, due_at)


def worker(env: WorkflowEnvironment, service: FakeComplaintService) -> Worker:
    return Worker(
        env.client,
        task_queue=f"tq-{uuid.uuid4().hex}",
        workflows=[ComplaintWorkflow],
        activities=[service.escalate_complaint, service.close_complaint],
    )


async def test_a_breached_response_clock_escalates_to_the_supervisors_once(env: WorkflowEnvironment) -> None:
    service = FakeComplaintService()
    async with worker(env, service) as running:
        complaint = await raise_complaint(env, running.task_queue)
        assert await complaint.handle.query(ComplaintWorkflow.due_at) == complaint.due_at
        await env.sleep(RESPONSE_WITHIN + timedelta(hours=5))
        assert [e.missed_due_at for e in service.escalations] == [complaint.due_at]
        assert service.escalated_at[0] >= complaint.due_at
        # Still awaiting its response, with no new deadline: the supervisors own it now.
        assert (await complaint.state(), await complaint.breaches()) == ("awaiting_response", 1)
        await complaint.resolve()
        await complaint.accept()
        outcome = await complaint.outcome()

    assert outcome == ComplaintOutcome(complaint_id=outcome.complaint_id, breaches=1, closed_by="client")
    assert len(service.escalations) == 1 and service.closed == []


async def test_a_resolution_in_time_stops_the_clock(env: WorkflowEnvironment) -> None:
    service = FakeComplaintService()
    async with worker(env, service) as running:
        complaint = await raise_complaint(env, running.task_queue)
        await env.sleep(timedelta(hours=3))
        await complaint.resolve()
        await env.sleep(RESPONSE_WITHIN * 2)
        assert await complaint.state() == "resolved"
        assert await complaint.handle.query(ComplaintWorkflow.due_at) is None
        await complaint.accept()
        outcome = await complaint.outcome()

    assert (outcome.breaches, outcome.closed_by) == (0, "client")
    assert service.escalations == []


async def test_a_reopen_starts_a_new_clock_that_escalates_on_its_own_due_time(
    env: WorkflowEnvironment,
) -> None:
    service = FakeComplaintService()
    async with worker(env, service) as running:
        complaint = await raise_complaint(env, running.task_queue)
        await env.sleep(timedelta(hours=2))
        await complaint.resolve()
        await env.sleep(timedelta(days=2))
        reopened_due = await complaint.reopen()
        await env.sleep(timedelta(hours=1))
        assert await complaint.state() == "awaiting_response"
        assert await complaint.handle.query(ComplaintWorkflow.due_at) == reopened_due
        assert service.escalations == []  # the first clock was kept
        await env.sleep(RESPONSE_WITHIN)
        assert [e.missed_due_at for e in service.escalations] == [reopened_due]
        await complaint.resolve()
        await complaint.accept()
        outcome = await complaint.outcome()

    assert (outcome.breaches, outcome.closed_by) == (1, "client")


async def test_a_resolution_left_unanswered_closes_after_seven_days(env: WorkflowEnvironment) -> None:
    service = FakeComplaintService()
    async with worker(env, service) as running:
        complaint = await raise_complaint(env, running.task_queue)
        await complaint.resolve()
        resolved_at = await env.get_current_time()
        outcome = await complaint.outcome()

    assert (outcome.breaches, outcome.closed_by) == (0, "unanswered")
    assert service.closed == [outcome.complaint_id]
    assert service.closed_at[0] - resolved_at >= ANSWER_WITHIN
    assert service.escalations == []


async def test_a_reopen_in_the_answer_window_keeps_the_complaint_open(env: WorkflowEnvironment) -> None:
    service = FakeComplaintService()
    async with worker(env, service) as running:
        complaint = await raise_complaint(env, running.task_queue)
        await complaint.resolve()
        await env.sleep(ANSWER_WITHIN - timedelta(days=1))
        await complaint.reopen()
        await env.sleep(timedelta(days=2))
        assert service.closed == []
        assert len(service.escalations) == 1  # the reopened clock ran out meanwhile
        await complaint.resolve()
        outcome = await complaint.outcome()

    assert (outcome.breaches, outcome.closed_by) == (1, "unanswered")
    assert service.closed == [outcome.complaint_id]
