"""DocumentOrderWorkflow (`docorder-<id>`): one paid document order, from payment to completion (§6.2.2).

awaiting_acknowledgement (30 min, R-DOC-2) → drafting (24/48/72 h, R-DOC-3) → in_review (a reviewer who is
not the author, R-DOC-4) → delivered → revising (any number of requests within 3/5/7 days of the first
delivery, R-DOC-5; each revision goes through review again) → completed.

The documents service is the read model: it writes every transition a person causes (acknowledge, an
agent's assignment of an order nobody was assigned, upload, review, accept, revision) in the same transaction
as the command, and tells this workflow through signals sent by its own event consumer. The workflow owns the
clocks: a missed deadline is a *state* recorded through `documents.record_breach` (the service counts it,
alerts and, for drafting, reassigns), never a failure. Revision requests are an Update whose validator
refuses them after the window."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        DOCUMENT_ORDER_WORKFLOW,
        AcceptSignal,
        AcknowledgeSignal,
        AssignedSignal,
        BreachInput,
        DocStageInput,
        DocumentOrderOutcome,
        DocumentOrderStatus,
        DocumentOrderWorkflowInput,
        DraftUploadedSignal,
        ReviewDecisionSignal,
        RevisionAccepted,
        RevisionRequest,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=DOCUMENT_ORDER_WORKFLOW)
class DocumentOrderWorkflow:
    def __init__(self) -> None:
        self._stage = "awaiting_acknowledgement"
        self._lawyer = ""
        self._acknowledged: AcknowledgeSignal | None = None
        self._draft: DraftUploadedSignal | None = None  # the version awaiting review
        self._last_version = 0
        self._decision: ReviewDecisionSignal | None = None
        self._accepted = False
        self._pending_revisions = 0
        self._revisions = 0
        self._draft_due: datetime | None = None
        self._window_end: datetime | None = None
        self._delivered_version: int | None = None
        self._breaches: list[str] = []
        self._completed_reason: str | None = None

    @workflow.run
    async def run(self, params: DocumentOrderWorkflowInput) -> DocumentOrderOutcome:
        self._lawyer = params.assigned_lawyer_id
        ack_deadline = params.paid_at + params.acknowledge_within
        if await self._until(lambda: self._acknowledged is not None, ack_deadline):
            assert self._acknowledged is not None
            # API.md: draft_due_at counts from the acknowledgement (the service computed the same).
            self._draft_due = self._acknowledged.at + params.draft_within
        else:
            # R-DOC-2 missed: counted and alerted; the order continues into drafting without waiting.
            self._draft_due = workflow.now() + params.draft_within
            await self._breach(params, "acknowledgement", ack_deadline, self._draft_due)
        self._stage = "drafting"

        # Drafting and review until the first approved version is delivered.
        await self._draft_until_approved(params, clock=True)
        assert self._decision is None and self._delivered_version is not None
        self._stage = "delivered"

        # The revision window runs from the first delivery and never restarts (API.md).
        assert self._window_end is not None
        while True:
            await self._until(lambda: self._accepted or self._pending_revisions > 0, self._window_end)
            if self._pending_revisions > 0:
                # Requested within the window: finished even when the window closes meanwhile.
                self._stage = "revising"
                self._pending_revisions = 0
                await self._draft_until_approved(params, clock=False)
                self._stage = "delivered"
                continue
            reason = "accepted" if self._accepted else "window_closed"
            break

        self._completed_reason = reason
        await workflow.execute_activity(
            "documents.record_stage",
            DocStageInput(
                document_order_id=params.document_order_id,
                stage="completed",
                reason=reason,
                idempotency_key=str(workflow.uuid4()),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._stage = "completed"
        return DocumentOrderOutcome(
            document_order_id=params.document_order_id,
            completed_reason=reason,
            breaches=list(self._breaches),
            revisions_requested=self._revisions,
        )

    async def _draft_until_approved(self, params: DocumentOrderWorkflowInput, *, clock: bool) -> None:
        """Wait for a draft (racing the delivery deadline when `clock`), then for its review; a rejection
        returns to drafting with the remaining time (§9.5)."""
        while True:
            if clock and self._draft_due is not None:
                if not await self._until(lambda: self._draft is not None, self._draft_due):
                    missed = self._draft_due
                    self._draft_due = workflow.now() + params.extension_after_breach
                    await self._breach(params, "delivery", missed, self._draft_due)
                    continue
            else:
                await workflow.wait_condition(lambda: self._draft is not None)
            previous_stage = self._stage
            self._stage = "in_review"
            await workflow.wait_condition(lambda: self._decision is not None)
            decision, self._decision = self._decision, None
            assert decision is not None
            self._draft = None
            if decision.decision == "approve":
                self._delivered_version = decision.version_number
                if self._window_end is None:
                    self._window_end = decision.at + params.revision_window
                return
            self._stage = previous_stage

    async def _until(self, condition: Callable[[], bool], deadline: datetime) -> bool:
        """Wait for `condition` until `deadline` (a Temporal timer); True when it holds."""
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):  # the deadline passed: the caller handles the breach
                await workflow.wait_condition(condition, timeout=remaining)
        return condition()

    async def _breach(
        self, params: DocumentOrderWorkflowInput, kind: str, due_at: datetime, new_due_at: datetime
    ) -> None:
        self._breaches.append(kind)
        lawyer = await workflow.execute_activity(
            "documents.record_breach",
            BreachInput(
                document_order_id=params.document_order_id,
                kind=kind,
                due_at=due_at,
                new_due_at=new_due_at,
                idempotency_key=str(workflow.uuid4()),
            ),
            result_type=str,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if lawyer:
            self._lawyer = lawyer

    # --- signals: facts the documents service already recorded -----------------------------------------

    @workflow.signal
    def acknowledge(self, signal: AcknowledgeSignal) -> None:
        if self._acknowledged is None:
            self._acknowledged = signal

    @workflow.signal
    def assigned(self, signal: AssignedSignal) -> None:
        # The service lets an agent assign only an order that has nobody, and the clocks run on unchanged.
        # A redelivered signal, or one arriving after a breach's reassignment already named the lawyer
        # (the activity's answer), changes nothing.
        if not self._lawyer:
            self._lawyer = signal.lawyer_id

    @workflow.signal
    def draft_uploaded(self, signal: DraftUploadedSignal) -> None:
        # Redelivered or stale signals (an older version) change nothing. The stage is not checked: signals
        # sent together arrive in one workflow task, before the main coroutine has moved the stage on.
        if signal.version_number > self._last_version and self._draft is None and self._stage != "completed":
            self._last_version = signal.version_number
            self._draft = signal

    @workflow.signal
    def review_decided(self, signal: ReviewDecisionSignal) -> None:
        draft = self._draft
        if draft is None or self._decision is not None or signal.version_number != draft.version_number:
            return
        if signal.reviewer_id == draft.author_id:
            workflow.logger.warning("review by the author ignored (§9.5)")
            return
        if signal.decision in ("approve", "reject"):
            self._decision = signal

    @workflow.signal
    def accept(self, signal: AcceptSignal) -> None:
        # Acted on only once a version is delivered (the service refuses an acceptance before that).
        if self._stage != "completed":
            self._accepted = True

    # --- update: a command that can be refused -----------------------------------------------------------

    @workflow.update
    async def request_revision(self, request: RevisionRequest) -> RevisionAccepted:
        self._revisions += 1
        self._pending_revisions += 1
        window_end = self._window_end or request.window_ends_at
        assert window_end is not None  # the validator made sure
        return RevisionAccepted(revision_number=self._revisions, revision_window_ends_at=window_end)

    @request_revision.validator
    def _validate_revision(self, request: RevisionRequest) -> None:
        window_end = self._window_end or request.window_ends_at
        if window_end is None:
            raise ApplicationError("the document has not been delivered yet", type="NotDelivered")
        if self._completed_reason is not None or self._stage == "completed":
            raise ApplicationError("the order is completed", type="Completed")
        if workflow.now() >= window_end:
            raise ApplicationError(
                f"the revision window closed at {window_end.isoformat()}", type="RevisionWindowClosed"
            )

    # --- queries ------------------------------------------------------------------------------------------

    @workflow.query
    def status(self) -> DocumentOrderStatus:
        return DocumentOrderStatus(
            stage=self._stage,
            assigned_lawyer_id=self._lawyer,
            acknowledged=self._acknowledged is not None,
            draft_due_at=self._draft_due,
            revision_window_ends_at=self._window_end,
            breaches=list(self._breaches),
            revisions_requested=self._revisions,
            delivered_version=self._delivered_version,
            completed_reason=self._completed_reason,
        )
