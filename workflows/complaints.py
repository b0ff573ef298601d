"""ComplaintWorkflow (`complaint-<id>`): the response clock of one complaint (R-CS-3, §6.1.4.4).

raised → the response clock (due at the time the consultation service set, 24 h) races the agent's
resolution. A breach is a state, not an error: the service records it (counsel_sla_deadlines missed) and
publishes `complaint.escalated`, which the notification service turns into a message to the supervisors;
the clock then waits for the resolution without a new deadline. Resolved → the client accepts (closed) or
reopens with a reason (a new clock, due at the time the reopen set); a resolution left unanswered for
`answer_within` (7 days) closes by itself. The service's events drive the signals
(services/consultation/workflow_link.py); the complaint's text never enters the history.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        COMPLAINT_WORKFLOW,
        ComplaintOutcome,
        ComplaintReopened,
        ComplaintWorkflowInput,
        EscalateComplaintInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=COMPLAINT_WORKFLOW)
class ComplaintWorkflow:
    def __init__(self) -> None:
        # awaiting_response → resolved → closed, or back to awaiting_response on a reopen.
        self._state = "awaiting_response"
        # Each reopen starts a new clock; a wait on an older one ends when this changes.
        self._clock = 0
        self._due_at: datetime | None = None
        self._breaches = 0

    @workflow.run
    async def run(self, params: ComplaintWorkflowInput) -> ComplaintOutcome:
        self._due_at = params.due_at
        while True:
            if self._state == "awaiting_response":
                await self._response_clock(params.complaint_id)
            elif self._state == "resolved":
                if not await self._await_answer(params):
                    return self._outcome(params, "unanswered")
            else:
                return self._outcome(params, "client")

    async def _response_clock(self, complaint_id: str) -> None:
        """Until the complaint is resolved, closed or its clock restarted; escalate once if the clock runs out."""
        clock, due_at = self._clock, self._due_at
        assert due_at is not None

        def moved_on() -> bool:
            return self._state != "awaiting_response" or self._clock != clock

        remaining = due_at - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(moved_on, timeout=remaining)
                return
            except TimeoutError:
                pass
        if moved_on():  # a resolution that arrived with the timer wins
            return
        escalated = await workflow.execute_activity(
            "consultation.escalate_complaint",
            EscalateComplaintInput(complaint_id=complaint_id, missed_due_at=due_at),
            result_type=bool,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if escalated:
            self._breaches += 1
        await workflow.wait_condition(moved_on)

    async def _await_answer(self, params: ComplaintWorkflowInput) -> bool:
        """Wait for the client to accept or reopen the resolution; False when the window ran out and the
        complaint closed by itself."""
        clock = self._clock
        try:
            await workflow.wait_condition(
                lambda: self._state != "resolved" or self._clock != clock, timeout=params.answer_within
            )
            return True
        except TimeoutError:
            pass
        status = await workflow.execute_activity(
            "consultation.close_complaint",
            params.complaint_id,
            result_type=str,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        if status == "closed":
            self._state = "closed"
            return False
        return True  # reopened meanwhile: its signal is on the way

    def _outcome(self, params: ComplaintWorkflowInput, closed_by: str) -> ComplaintOutcome:
        return ComplaintOutcome(
            complaint_id=params.complaint_id, breaches=self._breaches, closed_by=closed_by
        )

    @workflow.signal
    def resolved(self) -> None:
        """An agent resolved the complaint: the response clock stops."""
        if self._state == "awaiting_response":
            self._state = "resolved"

    @workflow.signal
    def reopened(self, reopened: ComplaintReopened) -> None:
        """The client reopened the resolution: a new response clock."""
        if self._state != "closed":
            self._state = "awaiting_response"
            self._clock += 1
            self._due_at = reopened.due_at

    @workflow.signal
    def closed(self) -> None:
        """The client accepted the resolution."""
        self._state = "closed"

    @workflow.query
    def state(self) -> str:
        return self._state

    @workflow.query
    def due_at(self) -> datetime | None:
        """The running response clock's due time; None when none runs."""
        return self._due_at if self._state == "awaiting_response" else None

    @workflow.query
    def breaches(self) -> int:
        return self._breaches
