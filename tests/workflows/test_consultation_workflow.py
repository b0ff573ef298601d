"""ConsultationWorkflow on the time-skipping test server (R-CON-2, §6.2.1.2): classify → assign → the 24 h
reply clock racing the lawyer's first reply → escalation on breach → close (client or quiet period) →
rating request. Every clock is a Temporal timer. Activities are fakes registered by name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.consultation import ConsultationWorkflow
from workflows.shared import (
    AssignInput,
    AssignResult,
    ClassifyInput,
    ClassifyResult,
    CloseConsultationInput,
    ConsultationOutcome,
    ConsultationWorkflowInput,
    EscalateInput,
    EscalateResult,
    MessagePosted,
    RecordStageInput,
    consultation_workflow_id,
)

SUBMITTED_AT = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ORIGINAL_DUE = SUBMITTED_AT + timedelta(hours=24)


class FakeConsultationService:
    """Lawyers are handed out in order; `answered_before_breach` makes the service report that the lawyer's
    reply was recorded before the breach (the reply won the race in the database)."""

    def __init__(self, lawyers: tuple[str, ...] = ("lawyer-a", "lawyer-b", "lawyer-c")) -> None:
        self.stages: list[RecordStageInput] = []
        self.closed: list[CloseConsultationInput] = []
        self.closed_at: list[datetime] = []  # server time at which the close was scheduled
        self.lawyers = list(lawyers)
        self.assigned: list[AssignInput] = []
        self.escalations: list[EscalateInput] = []
        self.escalated_at: list[datetime] = []
        self.answered_before_breach = False

    @activity.defn(name="consultation.classify")
    async def classify(self, request: ClassifyInput) -> ClassifyResult:
        return ClassifyResult(legal_field="labour")

    @activity.defn(name="consultation.assign_lawyer")
    async def assign_lawyer(self, request: AssignInput) -> AssignResult:
        self.assigned.append(request)
        return AssignResult(lawyer_id=self.lawyers.pop(0), reason="field labour")

    @activity.defn(name="consultation.escalate")
    async def escalate(self, request: EscalateInput) -> EscalateResult:
        if self.answered_before_breach:
            return EscalateResult(already_answered=True)
        self.escalations.append(request)
        self.escalated_at.append(activity.info().current_attempt_scheduled_time)
        nxt = next((lw for lw in self.lawyers if lw not in request.exclude_lawyer_ids), "")
        if nxt:
            self.lawyers.remove(nxt)
        return EscalateResult(already_answered=False, to_lawyer_id=nxt, reason="reassigned")

    @property
    def activities(self) -> list[object]:
        return [self.record_stage, self.close, self.classify, self.assign_lawyer, self.escalate]

    @activity.defn(name="consultation.record_stage")
    async def record_stage(self, request: RecordStageInput) -> None:
        self.stages.append(request)

    @activity.defn(name="consultation.close")
    async def close(self, request: CloseConsultationInput) -> None:
        self.closed.append(request)
        self.closed_at.append(activity.info().current_attempt_scheduled_time)


async def start(env: WorkflowEnvironment, task_queue: str, **overrides: object) -> WorkflowHandle:
    consultation_id = uuid.uuid4().hex
    params = ConsultationWorkflowInput(
        consultation_id=consultation_id,
        tenant_id="tenant-1",
        kind="professional",
        submitted_at=SUBMITTED_AT,
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
        activities=service.activities,
    ):
        before = await env.get_current_time()
        handle = await start(env, task_queue)
        outcome = await handle.result()

    assert outcome == ConsultationOutcome(
        consultation_id=outcome.consultation_id, closed_reason="quiet_period"
    )
    assert service.closed_at[0] - before >= timedelta(days=7)
    assert [s.stage for s in service.stages] == ["received", "rating_requested"]
    # Nobody replied: two breaches escalated, then the supervisor owned it until the quiet period ended.
    assert len(service.escalations) == 2
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
        activities=service.activities,
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
        activities=service.activities,
    ):
        handle = await start(env, task_queue)
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        await handle.signal(ConsultationWorkflow.close, "closed_by_agent")
        outcome = await handle.result()

    assert outcome.closed_reason == "closed_by_client"
    assert len(service.closed) == 1


def lawyer_replied() -> MessagePosted:
    return MessagePosted(author_role="lawyer", first_lawyer_reply=True)


async def test_reply_in_time_stops_the_clock_without_a_breach(env: WorkflowEnvironment) -> None:
    """R-CON-2: classified, assigned with the 24 h due time, the lawyer replies within it: no escalation."""
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        handle = await start(env, task_queue, submitted_at=await env.get_current_time())
        await env.sleep(timedelta(hours=23))
        await handle.signal(ConsultationWorkflow.message_posted, lawyer_replied())
        await env.sleep(timedelta(days=2))  # well past the 24 h due time: nothing fires
        assert await handle.query(ConsultationWorkflow.stage) == "answered"
        assert await handle.query(ConsultationWorkflow.breaches) == 0
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        outcome = await handle.result()

    assert outcome.closed_reason == "closed_by_client"
    assert service.escalations == []
    assert [a.exclude_lawyer_ids for a in service.assigned] == [[]]
    assert service.assigned[0].due_at is not None
    assert [s.stage for s in service.stages] == ["received", "rating_requested"]


async def test_breach_escalates_to_another_lawyer_keeping_the_original_due_time(
    env: WorkflowEnvironment,
) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        submitted = await env.get_current_time()
        handle = await start(env, task_queue, submitted_at=submitted)
        await env.sleep(timedelta(hours=25))
        assert await handle.query(ConsultationWorkflow.breaches) == 1
        assert await handle.query(ConsultationWorkflow.lawyer_id) == "lawyer-b"
        await handle.signal(ConsultationWorkflow.message_posted, lawyer_replied())
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        await handle.result()

    [breach] = service.escalations
    assert breach.from_lawyer_id == "lawyer-a"
    assert breach.missed_due_at == submitted + timedelta(hours=24)  # the original due time, recorded
    assert breach.exclude_lawyer_ids == ["lawyer-a"]
    assert breach.next_due_at - service.escalated_at[0] <= timedelta(hours=4)
    assert service.escalated_at[0] - submitted >= timedelta(hours=24)


async def test_double_breach_reassigns_twice_then_leaves_it_to_the_supervisor(
    env: WorkflowEnvironment,
) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        submitted = await env.get_current_time()
        handle = await start(env, task_queue, submitted_at=submitted, auto_close_after=timedelta(days=30))
        await env.sleep(timedelta(days=3))  # 24 h + 4 h + 4 h and far beyond
        assert await handle.query(ConsultationWorkflow.breaches) == 2  # max_escalations: no third clock
        assert await handle.query(ConsultationWorkflow.lawyer_id) == "lawyer-c"
        await handle.signal(ConsultationWorkflow.message_posted, lawyer_replied())
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        await handle.result()

    first, second = service.escalations
    assert (first.from_lawyer_id, second.from_lawyer_id) == ("lawyer-a", "lawyer-b")
    assert first.missed_due_at == submitted + timedelta(hours=24)
    assert second.missed_due_at == first.next_due_at  # the second lawyer's own 4 h deadline
    assert second.exclude_lawyer_ids == ["lawyer-a", "lawyer-b"]
    # The second hop breaches at the second lawyer's deadline, not before (compared with the deadline the
    # workflow gave, not with the first activity's schedule time, which trails the timer by a few ms).
    assert service.escalated_at[1] >= first.next_due_at
    assert first.next_due_at - first.missed_due_at >= timedelta(hours=4)


async def test_a_reply_recorded_just_before_the_timer_wins_the_race(env: WorkflowEnvironment) -> None:
    """The reply is in the database but its signal has not arrived when the timer fires: the service
    answers `already_answered` and there is no breach."""
    service = FakeConsultationService()
    service.answered_before_breach = True
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        handle = await start(env, task_queue, submitted_at=await env.get_current_time())
        await env.sleep(timedelta(hours=25))
        assert await handle.query(ConsultationWorkflow.breaches) == 0
        assert await handle.query(ConsultationWorkflow.stage) == "answered"
        assert await handle.query(ConsultationWorkflow.lawyer_id) == "lawyer-a"
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        await handle.result()
    assert service.escalations == []


async def test_a_reply_signalled_at_the_due_instant_is_not_a_breach(env: WorkflowEnvironment) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        submitted = await env.get_current_time()
        handle = await start(env, task_queue, submitted_at=submitted)
        await env.sleep(timedelta(hours=24) - timedelta(seconds=1))
        await handle.signal(ConsultationWorkflow.message_posted, lawyer_replied())
        await env.sleep(timedelta(hours=2))
        assert await handle.query(ConsultationWorkflow.breaches) == 0
        await handle.signal(ConsultationWorkflow.close, "closed_by_client")
        await handle.result()
    assert service.escalations == []


async def test_follow_ups_restart_the_quiet_period(env: WorkflowEnvironment) -> None:
    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        handle = await start(
            env, task_queue, kind="general", reply_within=None, auto_close_after=timedelta(days=7)
        )
        await env.sleep(timedelta(days=6))
        signalled = await env.get_current_time()
        await handle.signal(ConsultationWorkflow.message_posted, MessagePosted(author_role="client"))
        await env.sleep(timedelta(days=6))  # 12 days after submission, 6 after the last message
        assert await handle.query(ConsultationWorkflow.stage) != "closed"
        outcome = await handle.result()
    assert outcome.closed_reason == "quiet_period"
    # Closed a quiet period after the follow-up, not after submission (the clock's reading has ms jitter).
    assert service.closed_at[0] - signalled >= timedelta(days=7) - timedelta(seconds=1)
    assert service.escalations == []  # a general question has no reply clock
    assert [s.stage for s in service.stages][-1] == "rating_requested"


async def test_the_reply_clock_comes_from_the_tier_on_the_submitted_event(env: WorkflowEnvironment) -> None:
    """A 48 h tier (its `reply_hours` copied on the order, turned into `reply_due_at` by the service): the
    workflow started from `consultation.submitted` breaches at 48 h, not at a hard-coded 24 h."""
    from typing import Any, cast

    from google.protobuf.any_pb2 import Any as AnyProto

    from counsel.common.v1.event_pb2 import EventEnvelope
    from counsel.consultation.v1 import events_pb2
    from services.consultation.events import TABLE, HandlerContext
    from services.consultation.workflow_link import WorkflowLink
    from services.runtime.records import to_timestamp
    from tests.support.factories import deliver

    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"
    consultation_id = uuid.uuid4().hex
    submitted_at = (await env.get_current_time()).replace(microsecond=0)
    packed = AnyProto()
    packed.Pack(
        events_pb2.ConsultationSubmitted(
            consultation_id=consultation_id,
            kind="professional",
            reply_due_at=to_timestamp(submitted_at + timedelta(hours=48)),
        )
    )
    envelope = EventEnvelope(id="e1", type="consultation.submitted", tenant_id="tenant-1", payload=packed)
    envelope.occurred_at.FromDatetime(submitted_at)
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        await deliver(
            TABLE["workflow-starter"],
            HandlerContext(WorkflowLink(env.client, task_queue), cast(Any, None)),
            envelope,
            cast(Any, None),
        )
        handle = env.client.get_workflow_handle(consultation_workflow_id(consultation_id))
        await handle.signal(ConsultationWorkflow.close, "withdrawn")
        await handle.result()
    assert service.stages[0].due_at == submitted_at + timedelta(hours=48)
    assert service.escalations == []  # closed before any clock ran out

    service = FakeConsultationService()
    consultation_id = uuid.uuid4().hex
    packed.Pack(
        events_pb2.ConsultationSubmitted(
            consultation_id=consultation_id,
            kind="professional",
            reply_due_at=to_timestamp(submitted_at + timedelta(hours=48)),
        )
    )
    envelope = EventEnvelope(id="e2", type="consultation.submitted", tenant_id="tenant-1", payload=packed)
    envelope.occurred_at.FromDatetime(submitted_at)
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        await deliver(
            TABLE["workflow-starter"],
            HandlerContext(WorkflowLink(env.client, task_queue), cast(Any, None)),
            envelope,
            cast(Any, None),
        )
        handle = env.client.get_workflow_handle(consultation_workflow_id(consultation_id))
        await env.sleep(timedelta(hours=47))
        assert await handle.query(ConsultationWorkflow.breaches) == 0  # a 24 h clock would have run out
        await env.sleep(timedelta(hours=2))
        await handle.signal(ConsultationWorkflow.close, "withdrawn")
        await handle.result()
    first = service.escalations[0]  # the 48 h breach, escalated once before the close
    assert first.missed_due_at == submitted_at + timedelta(hours=48)
    assert service.escalated_at[0] - submitted_at >= timedelta(hours=48)


async def test_the_services_replies_and_closes_reach_the_workflow_through_its_link(
    env: WorkflowEnvironment,
) -> None:
    """A close reaches the workflow only from `consultation.closed`, published after the close committed
    (the outbox), never from the RPC: the link turns the lawyer's reply and the client's close into signals.
    A close for a workflow not started yet is early (NotYet), so the consumer redelivers it; one for a
    finished workflow is nothing to tell."""
    from typing import Any, cast

    from temporalio.service import RPCError, RPCStatusCode

    from counsel.common.v1.event_pb2 import EventEnvelope
    from counsel.consultation.v1 import events_pb2
    from services.consultation.events import TABLE, HandlerContext
    from services.consultation.workflow_link import WorkflowLink
    from services.runtime.events import NotYet
    from services.runtime.temporal import _if_running
    from tests.support.factories import deliver, envelope

    service = FakeConsultationService()
    task_queue = f"tq-{uuid.uuid4().hex}"

    async def link(event: EventEnvelope, session: Any) -> None:
        """The event through the consultation consumer that reads it (workflow-starter or -signaller)."""
        handlers = {**TABLE["workflow-starter"], **TABLE["workflow-signaller"]}
        await deliver(
            handlers, HandlerContext(WorkflowLink(env.client, task_queue), cast(Any, None)), event, session
        )

    consultation_id = uuid.uuid4().hex
    closed = envelope(
        "consultation.closed",
        events_pb2.ConsultationClosed(
            consultation_id=consultation_id, reason="closed_by_client", served=True
        ),
        tenant_id="tenant-1",
    )
    with pytest.raises(NotYet):  # not started yet: the event comes again
        await link(closed, cast(Any, None))
    async with Worker(
        env.client, task_queue=task_queue, workflows=[ConsultationWorkflow], activities=service.activities
    ):
        submitted = events_pb2.ConsultationSubmitted(consultation_id=consultation_id, kind="general")
        await link(envelope("consultation.submitted", submitted, tenant_id="tenant-1"), cast(Any, None))
        replied = events_pb2.ConsultationReplied(
            consultation_id=consultation_id, author_role="lawyer", first_lawyer_reply=True
        )
        await link(envelope("consultation.replied", replied, tenant_id="tenant-1"), cast(Any, None))
        handle = env.client.get_workflow_handle(
            consultation_workflow_id(consultation_id), result_type=ConsultationOutcome
        )
        await env.sleep(timedelta(seconds=1))
        assert await handle.query(ConsultationWorkflow.stage) == "answered"

        async def refused_just_before_the_start() -> None:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

        # A signal refused as "not found" for a workflow running when described was started in between (by
        # the workflow-starter consumer): early too, and redelivered.
        with pytest.raises(NotYet, match="started only now"):
            await _if_running(handle, refused_just_before_the_start())
        await link(closed, cast(Any, None))
        outcome = await handle.result()
        await link(closed, cast(Any, None))  # redelivered after the workflow finished: harmless
    assert outcome.closed_reason == "closed_by_client"
    assert [c.reason for c in service.closed] == ["closed_by_client"]
