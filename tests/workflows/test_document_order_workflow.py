"""DocumentOrderWorkflow on the time-skipping test server: every clock of §6.2.2 is a Temporal timer
(R-DOC-2 30 min acknowledgement, R-DOC-3 24/48/72 h delivery, R-DOC-4 review gate, R-DOC-5 revision
window). Activities are fakes registered by name; each test has its own task queue."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import cast

import pytest
from google.protobuf.any_pb2 import Any as AnyProto
from temporalio import activity
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1 import events_pb2 as documents_events
from services.documents import events as documents_consumers
from services.documents.store import DocumentsStores
from services.documents.workflow_link import WorkflowLink
from tests.support.factories import deliver
from workflows.documents import DocumentOrderWorkflow
from workflows.shared import (
    AcceptSignal,
    AcknowledgeSignal,
    BreachInput,
    DocStageInput,
    DocumentOrderStatus,
    DocumentOrderWorkflowInput,
    DraftUploadedSignal,
    ReviewDecisionSignal,
    RevisionAccepted,
    RevisionRequest,
    document_order_workflow_id,
)

LAWYER = "lawyer-1"
REASSIGNED = "lawyer-2"
REVIEWER = "reviewer-1"
AGENT = "agent-1"
CLIENT = "client-1"


class FakeDocumentsService:
    def __init__(self) -> None:
        self.stages: list[DocStageInput] = []
        self.breaches: list[BreachInput] = []
        self.breached_at: list[datetime] = []
        self.completed_at: list[datetime] = []

    @activity.defn(name="documents.record_stage")
    async def record_stage(self, request: DocStageInput) -> None:
        self.stages.append(request)
        self.completed_at.append(activity.info().current_attempt_scheduled_time)

    @activity.defn(name="documents.record_breach")
    async def record_breach(self, request: BreachInput) -> str:
        self.breaches.append(request)
        self.breached_at.append(activity.info().current_attempt_scheduled_time)
        return REASSIGNED if request.kind == "delivery" else ""


class Order:
    """One running order and the helpers that play the people around it."""

    def __init__(self, env: WorkflowEnvironment, handle: WorkflowHandle, paid_at: datetime) -> None:
        self.env = env
        self.handle = handle
        self.paid_at = paid_at
        self.version = 0

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def status(self) -> DocumentOrderStatus:
        return await self.handle.query(DocumentOrderWorkflow.status)

    async def acknowledge(self) -> None:
        await self.handle.signal(
            DocumentOrderWorkflow.acknowledge, AcknowledgeSignal(agent_id=AGENT, at=await self.now())
        )

    async def upload(self, author: str = LAWYER) -> int:
        self.version += 1
        await self.handle.signal(
            DocumentOrderWorkflow.draft_uploaded,
            DraftUploadedSignal(version_number=self.version, author_id=author, at=await self.now()),
        )
        return self.version

    async def review(self, decision: str, reviewer: str = REVIEWER) -> None:
        await self.handle.signal(
            DocumentOrderWorkflow.review_decided,
            ReviewDecisionSignal(
                version_number=self.version, reviewer_id=reviewer, decision=decision, at=await self.now()
            ),
        )

    async def deliver(self) -> None:
        await self.upload()
        await self.review("approve")

    async def revise(self, instructions: str = "更改第三条") -> RevisionAccepted:
        return await self.handle.execute_update(
            DocumentOrderWorkflow.request_revision,
            RevisionRequest(requested_by=CLIENT, instructions=instructions),
        )

    async def accept(self) -> None:
        await self.handle.signal(
            DocumentOrderWorkflow.accept, AcceptSignal(client_id=CLIENT, at=await self.now())
        )

    async def settle(self) -> DocumentOrderStatus:
        """Let the workflow process what it was sent (a tiny skip), then read its status."""
        await self.env.sleep(timedelta(seconds=1))
        return await self.status()


@pytest.fixture
def service() -> FakeDocumentsService:
    return FakeDocumentsService()


STARTED: list[WorkflowHandle] = []


@pytest.fixture(autouse=True)
async def terminate_leftovers() -> AsyncIterator[None]:
    """A workflow left waiting after its test would hold its timers (and the test server's time skipping)
    while no worker polls its queue: end it."""
    yield
    while STARTED:
        handle = STARTED.pop()
        with contextlib.suppress(Exception):  # already completed
            await handle.terminate("test finished")


@pytest.fixture
async def worker(env: WorkflowEnvironment, service: FakeDocumentsService) -> AsyncIterator[str]:
    task_queue = f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[DocumentOrderWorkflow],
        activities=[service.record_stage, service.record_breach],
    ):
        yield task_queue


async def start(env: WorkflowEnvironment, task_queue: str, **overrides: object) -> Order:
    document_order_id = uuid.uuid4().hex
    paid_at = await env.get_current_time()
    params = DocumentOrderWorkflowInput(
        document_order_id=document_order_id,
        tenant_id="tenant-1",
        client_id=CLIENT,
        complexity="standard",
        assigned_lawyer_id=LAWYER,
        paid_at=paid_at,
        acknowledge_within=timedelta(minutes=30),
        draft_within=timedelta(hours=48),
        revision_window=timedelta(days=5),
    ).model_copy(update=overrides)
    handle = await env.client.start_workflow(
        DocumentOrderWorkflow.run,
        params,
        id=document_order_workflow_id(document_order_id),
        task_queue=task_queue,
    )
    STARTED.append(handle)
    return Order(env, handle, paid_at)


async def test_on_time_path_completes_when_the_window_ends_without_breaches(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    """R-DOC-2..5: acknowledged, drafted, approved and delivered in time; the 5-day window closes it."""
    order = await start(env, worker)
    await order.acknowledge()
    status = await order.settle()
    assert status.stage == "drafting" and status.acknowledged
    assert status.draft_due_at is not None
    assert timedelta(hours=47) < status.draft_due_at - order.paid_at <= timedelta(hours=48, seconds=2)
    await order.upload()
    assert (await order.settle()).stage == "in_review"
    await order.review("approve")
    delivered_at = await order.now()
    status = await order.settle()
    assert status.stage == "delivered" and status.delivered_version == 1
    assert status.revision_window_ends_at is not None
    assert abs(status.revision_window_ends_at - (delivered_at + timedelta(days=5))) < timedelta(seconds=2)

    outcome = await order.handle.result()
    assert outcome.completed_reason == "window_closed" and outcome.breaches == []
    assert service.breaches == []
    assert [(s.stage, s.reason) for s in service.stages] == [("completed", "window_closed")]
    assert service.completed_at[0] >= status.revision_window_ends_at  # not a moment before the window ends


async def test_acknowledgement_breach_is_recorded_and_the_order_continues(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    """R-DOC-2: nobody acknowledges within 30 minutes → a recorded breach (not a failure), drafting goes on."""
    order = await start(env, worker)
    await env.sleep(timedelta(minutes=31))
    status = await order.status()
    assert status.stage == "drafting" and status.breaches == ["acknowledgement"]
    assert [b.kind for b in service.breaches] == ["acknowledgement"]
    assert service.breaches[0].due_at == order.paid_at + timedelta(minutes=30)
    assert service.breached_at[0] - order.paid_at >= timedelta(minutes=30)
    # The client is told when the draft is now expected: 48 h from the breach.
    assert service.breaches[0].new_due_at == status.draft_due_at
    await order.deliver()
    await order.accept()
    outcome = await order.handle.result()
    assert outcome.breaches == ["acknowledgement"] and outcome.completed_reason == "accepted"


async def test_drafting_breach_reassigns_and_sets_a_new_expected_time(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    """R-DOC-3: the 48 h draft deadline passes → breach recorded, lawyer reassigned, new due time set."""
    order = await start(env, worker)
    await order.acknowledge()
    first_due = (await order.settle()).draft_due_at
    assert first_due is not None
    await env.sleep(timedelta(hours=47))
    assert (await order.status()).breaches == []  # not yet
    await env.sleep(timedelta(hours=2))
    status = await order.status()
    assert status.breaches == ["delivery"] and status.stage == "drafting"
    assert status.assigned_lawyer_id == REASSIGNED
    assert service.breaches[0].due_at == first_due
    assert status.draft_due_at is not None and status.draft_due_at - first_due >= timedelta(hours=24)
    assert service.breached_at[0] >= first_due
    await order.deliver()
    await order.accept()
    assert (await order.handle.result()).breaches == ["delivery"]


async def test_rejection_returns_to_drafting_with_the_remaining_time_then_approval_delivers(
    env: WorkflowEnvironment, worker: str
) -> None:
    """R-DOC-4 / §9.5: a rejected draft goes back to the lawyer; the deadline does not restart."""
    order = await start(env, worker)
    await order.acknowledge()
    due = (await order.settle()).draft_due_at
    await order.upload()
    await env.sleep(timedelta(hours=10))
    await order.review("reject")
    status = await order.settle()
    assert status.stage == "drafting" and status.draft_due_at == due and status.delivered_version is None
    await order.upload()
    await order.review("approve")
    status = await order.settle()
    assert status.stage == "delivered" and status.delivered_version == 2 and status.breaches == []


async def test_a_review_by_the_author_is_refused(env: WorkflowEnvironment, worker: str) -> None:
    """§9.5: the reviewer is never the author; the author's approval changes nothing."""
    order = await start(env, worker)
    await order.acknowledge()
    await order.upload(author=LAWYER)
    await order.review("approve", reviewer=LAWYER)
    status = await order.settle()
    assert status.stage == "in_review" and status.delivered_version is None
    await order.review("approve", reviewer=REVIEWER)
    assert (await order.settle()).stage == "delivered"


async def test_revisions_any_number_of_times_within_the_window(env: WorkflowEnvironment, worker: str) -> None:
    """R-DOC-5: unlimited revisions; each goes through review again; the window never restarts."""
    order = await start(env, worker)
    await order.acknowledge()
    await order.deliver()
    window_end = (await order.settle()).revision_window_ends_at
    for n in range(1, 4):
        accepted = await order.revise(f"revision {n}")
        assert accepted.revision_number == n and accepted.revision_window_ends_at == window_end
        status = await order.settle()
        assert status.stage == "revising"
        await order.upload()
        assert (await order.settle()).stage == "in_review"
        await order.review("approve")
        status = await order.settle()
        assert status.stage == "delivered" and status.delivered_version == order.version
        assert status.revision_window_ends_at == window_end
        await env.sleep(timedelta(days=1))
    outcome = await order.handle.result()
    assert outcome.revisions_requested == 3 and outcome.completed_reason == "window_closed"
    # The history (signals, updates, timers) replays deterministically with today's code.
    replayer = Replayer(workflows=[DocumentOrderWorkflow], data_converter=env.client.data_converter)
    await replayer.replay_workflow(await order.handle.fetch_history())


async def test_a_request_one_second_after_the_window_is_refused(
    env: WorkflowEnvironment, worker: str
) -> None:
    """R-DOC-5: the Update's validator refuses a revision after the window, with a clear reason."""
    order = await start(env, worker)
    await order.acknowledge()
    await order.deliver()
    window_end = (await order.settle()).revision_window_ends_at
    assert window_end is not None
    # A revision requested just in time keeps the order open past the window ...
    await env.sleep(window_end - await order.now() - timedelta(seconds=10))
    await order.revise("last-minute change")
    await env.sleep(window_end - await order.now() + timedelta(seconds=1))
    assert await order.now() >= window_end + timedelta(seconds=1)
    # ... and a request one second after the window is refused by the validator.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await order.revise("too late")
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == "RevisionWindowClosed"
    assert (await order.status()).revisions_requested == 1


async def test_a_revision_in_progress_at_window_end_is_finished(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    """R-DOC-5: the window closing does not cut off a revision the client asked for in time."""
    order = await start(env, worker)
    await order.acknowledge()
    await order.deliver()
    window_end = (await order.settle()).revision_window_ends_at
    assert window_end is not None
    await env.sleep(window_end - await order.now() - timedelta(hours=1))
    await order.revise()
    await env.sleep(timedelta(hours=3))
    assert (await order.status()).stage == "revising"  # past the window, still working
    await order.upload()
    await order.review("approve")
    outcome = await order.handle.result()
    assert outcome.completed_reason == "window_closed" and outcome.revisions_requested == 1
    assert service.completed_at[0] > window_end


async def test_acceptance_before_the_window_ends_completes_the_order(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    order = await start(env, worker)
    await order.acknowledge()
    await order.deliver()
    window_end = (await order.settle()).revision_window_ends_at
    assert window_end is not None
    await order.accept()
    outcome = await order.handle.result()
    assert outcome.completed_reason == "accepted"
    assert service.completed_at[0] < window_end - timedelta(days=4)
    # After completion a revision can no longer be requested.
    with pytest.raises(Exception):  # noqa: B017 - the workflow is closed: the server refuses the update
        await order.revise()


async def test_worker_restart_in_the_middle_of_drafting_keeps_state_and_timers(
    env: WorkflowEnvironment, service: FakeDocumentsService
) -> None:
    """Deadlines are durable (SPEC "Document services"): a new worker picks the order up where it was."""
    task_queue = f"tq-{uuid.uuid4().hex}"

    def new_worker() -> Worker:
        return Worker(
            env.client,
            task_queue=task_queue,
            workflows=[DocumentOrderWorkflow],
            activities=[service.record_stage, service.record_breach],
            max_cached_workflows=0,  # nothing survives in memory: the new worker replays the history
        )

    async with new_worker():
        order = await start(env, task_queue)
        await order.acknowledge()
        due = (await order.settle()).draft_due_at
        await env.sleep(timedelta(hours=20))
        assert (await order.status()).stage == "drafting"
    # No worker for a while: time passes, the timer lives in the server.
    async with new_worker():
        status = await order.status()
        assert status.stage == "drafting" and status.draft_due_at == due and status.acknowledged
        await env.sleep(timedelta(hours=29))
        status = await order.status()
        assert status.breaches == ["delivery"] and status.assigned_lawyer_id == REASSIGNED
        assert service.breaches[0].due_at == due
        await order.deliver()
        await order.accept()
        outcome = await order.handle.result()
    assert outcome.completed_reason == "accepted" and outcome.breaches == ["delivery"]


async def test_the_service_turns_the_validators_refusal_into_a_conflict(
    env: WorkflowEnvironment, worker: str
) -> None:
    """R-DOC-5 through the documents service's own Temporal call: a late request is a Conflict (→ 409) with
    the validator's reason, an in-time one goes through."""
    from services.documents.server import DocumentsServicer
    from services.runtime.errors import Conflict

    order = await start(env, worker)
    document_order_id = order.handle.id.removeprefix("docorder-")
    servicer = DocumentsServicer(stores=None, files=None, temporal=env.client, catalog=None)  # type: ignore[arg-type]
    await order.acknowledge()
    await order.deliver()
    window_end = (await order.settle()).revision_window_ends_at
    assert window_end is not None
    await servicer._request_revision(document_order_id, CLIENT, window_end)
    await env.sleep(window_end - await order.now() + timedelta(seconds=1))
    with pytest.raises(Conflict) as refused:
        await servicer._request_revision(document_order_id, CLIENT, window_end)
    assert refused.value.reason == "revision_window_closed"
    # After completion the workflow is closed: still a Conflict, never a 5xx.
    accepted = await start(env, worker)
    await accepted.acknowledge()
    await accepted.deliver()
    await accepted.settle()
    await accepted.accept()
    await accepted.handle.result()
    with pytest.raises(Conflict) as closed:
        await servicer._request_revision(accepted.handle.id.removeprefix("docorder-"), CLIENT, window_end)
    assert closed.value.reason == "completed"


async def test_a_cancelled_order_stops_its_clocks_and_its_workflow(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    """A supervisor cancels a document order: the service's `docorder.cancelled` reaches the workflow link,
    which cancels `docorder-<id>`; no deadline fires afterwards, and a redelivered event is harmless."""
    order = await start(env, worker)
    await order.acknowledge()
    await order.settle()
    document_order_id = order.handle.id.removeprefix("docorder-")
    packed = AnyProto()
    packed.Pack(
        documents_events.DocOrderCancelled(
            document_order_id=document_order_id, order_id="o1", client_id=CLIENT, reason="无法起草"
        )
    )
    envelope = EventEnvelope(id="e-cancel", type="docorder.cancelled", tenant_id="tenant-1", payload=packed)
    link = documents_consumers.HandlerContext(cast(DocumentsStores, None), WorkflowLink(env.client, worker))
    driver = documents_consumers.TABLE["workflow-driver"]
    await deliver(driver, link, envelope, None)  # type: ignore[arg-type]  # the link does not use the session
    with pytest.raises(WorkflowFailureError) as failure:
        await order.handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert (await order.handle.describe()).status == WorkflowExecutionStatus.CANCELED
    await env.sleep(timedelta(days=10))  # far past every deadline of the order
    assert service.breaches == [] and service.stages == []
    await deliver(driver, link, envelope, None)  # type: ignore[arg-type]  # redelivered: the workflow is closed


async def test_an_agents_late_assignment_names_the_lawyer_and_leaves_the_clocks_as_they_ran(
    env: WorkflowEnvironment, worker: str, service: FakeDocumentsService
) -> None:
    """R-DOC-3, §9.4: an order nobody was assigned misses its acknowledgement while it waits (an agent cannot
    acknowledge it without a lawyer). An agent assigns it two hours after payment: `docorder.assigned` reaches
    the workflow through the service's `workflow-driver` consumer, as every other fact does, so its status
    names the lawyer; the delivery clock, started at the breach, runs on unchanged and falls due on the
    lawyer. A redelivered assignment changes nothing, nor does one arriving after the breach's reassignment."""
    order = await start(env, worker, assigned_lawyer_id="")
    await env.sleep(timedelta(minutes=31))
    status = await order.status()
    assert (status.stage, status.breaches, status.assigned_lawyer_id) == ("drafting", ["acknowledgement"], "")
    assert service.breaches[0].due_at == order.paid_at + timedelta(minutes=30)
    draft_due = status.draft_due_at
    assert draft_due is not None and draft_due == service.breaches[0].new_due_at

    await env.sleep(timedelta(hours=2))
    document_order_id = order.handle.id.removeprefix("docorder-")
    packed = AnyProto()
    packed.Pack(
        documents_events.DocOrderAssigned(
            document_order_id=document_order_id, lawyer_id=LAWYER, agent_id=AGENT, legal_field="tax"
        )
    )
    assigned = EventEnvelope(id="e-assigned", type="docorder.assigned", tenant_id="tenant-1", payload=packed)
    link = documents_consumers.HandlerContext(cast(DocumentsStores, None), WorkflowLink(env.client, worker))
    driver = documents_consumers.TABLE["workflow-driver"]
    await deliver(driver, link, assigned, None)  # type: ignore[arg-type]  # the link does not use the session
    status = await order.settle()
    assert (status.assigned_lawyer_id, status.draft_due_at) == (LAWYER, draft_due)
    await deliver(driver, link, assigned, None)  # type: ignore[arg-type]  # redelivered
    assert (await order.settle()).assigned_lawyer_id == LAWYER

    await env.sleep(draft_due - await order.now() - timedelta(minutes=1))
    assert (await order.status()).breaches == ["acknowledgement"]  # not yet: no new clock at the assignment
    await env.sleep(timedelta(minutes=2))
    status = await order.status()
    assert status.breaches == ["acknowledgement", "delivery"] and service.breaches[1].due_at == draft_due
    assert status.assigned_lawyer_id == REASSIGNED
    await deliver(driver, link, assigned, None)  # type: ignore[arg-type]  # redelivered after the reassignment
    assert (await order.settle()).assigned_lawyer_id == REASSIGNED
