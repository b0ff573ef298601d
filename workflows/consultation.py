"""ConsultationWorkflow (`consultation-<id>`): the process of one consultation, from submission to rating.

received → classified (legal nature, R-CON-2) → assigned (a lawyer of that field) → the reply clock: the
first reply of the assigned lawyer races `reply_due_at` = submission + `reply_within` (24 h, from the product
tier). A breach is a state, not an error: the service records it (SLA metric, supervisor alert event) and
reassigns to another eligible lawyer who gets `escalation_reply_within`; the consultation's original due
time stays as it was. After `max_escalations` breaches the supervisor owns it and no new clock starts.
Then follow-ups go both ways until the client closes it or nobody writes for `auto_close_after`; closing
asks the client for a rating. The question text never enters the workflow's history: the service reads it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        CONSULTATION_WORKFLOW,
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
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn(name=CONSULTATION_WORKFLOW)
class ConsultationWorkflow:
    def __init__(self) -> None:
        self._stage = "submitted"
        self._close_reason: str | None = None
        self._replied = False
        self._messages = 0
        self._lawyer_id = ""
        self._breaches = 0

    @workflow.run
    async def run(self, params: ConsultationWorkflowInput) -> ConsultationOutcome:
        due_at = params.submitted_at + params.reply_within if params.reply_within else None
        await self._record_stage(params.consultation_id, "received", due_at)
        self._stage = "received"

        classified = await workflow.execute_activity(
            "consultation.classify",
            ClassifyInput(consultation_id=params.consultation_id, idempotency_key=str(workflow.uuid4())),
            result_type=ClassifyResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._stage = (
            "awaiting_manual_classification" if classified.needs_manual_classification else "classified"
        )

        assigned = await workflow.execute_activity(
            "consultation.assign_lawyer",
            AssignInput(
                consultation_id=params.consultation_id, due_at=due_at, idempotency_key=str(workflow.uuid4())
            ),
            result_type=AssignResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._lawyer_id = assigned.lawyer_id
        self._stage = "assigned" if assigned.lawyer_id else "awaiting_lawyer"

        if due_at is not None:
            await self._reply_clock(params, due_at)
        if self._replied:
            self._stage = "answered"
        await self._until_closed(params)

        reason = self._close_reason or "quiet_period"
        await workflow.execute_activity(
            "consultation.close",
            CloseConsultationInput(consultation_id=params.consultation_id, reason=reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._stage = "closed"
        # R-Q-1: every finished service asks for a rating.
        await self._record_stage(params.consultation_id, "rating_requested", None)
        return ConsultationOutcome(consultation_id=params.consultation_id, closed_reason=reason)

    async def _reply_clock(self, params: ConsultationWorkflowInput, due_at: datetime) -> None:
        """Race the assigned lawyer's first reply against each hop's deadline (R-CON-2, §6.2.1.2)."""
        hop_due = due_at
        excluded: list[str] = []
        while not self._settled():
            remaining = hop_due - workflow.now()
            if remaining > timedelta(0):
                try:
                    await workflow.wait_condition(self._settled, timeout=remaining)
                    return
                except TimeoutError:
                    pass
            if self._settled():  # a reply that arrived with the timer wins
                return
            self._breaches += 1
            if self._lawyer_id:
                excluded.append(self._lawyer_id)
            next_due = workflow.now() + params.escalation_reply_within
            escalated = await workflow.execute_activity(
                "consultation.escalate",
                EscalateInput(
                    consultation_id=params.consultation_id,
                    from_lawyer_id=self._lawyer_id,
                    missed_due_at=hop_due,
                    next_due_at=next_due,
                    exclude_lawyer_ids=list(excluded),
                    idempotency_key=str(workflow.uuid4()),
                ),
                result_type=EscalateResult,
                start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=ACTIVITY_RETRY,
            )
            if escalated.already_answered:  # the service recorded the reply before the breach
                self._breaches -= 1
                self._replied = True
                return
            self._lawyer_id = escalated.to_lawyer_id
            self._stage = "escalated"
            if self._breaches >= params.max_escalations:
                # The supervisor was alerted on every breach and owns it now: no new clock. A reply still
                # counts; silence closes it after the quiet period like any other consultation.
                return
            hop_due = next_due

    async def _until_closed(self, params: ConsultationWorkflowInput) -> None:
        """Follow-ups both ways; closes when the client does or after a quiet period with no message."""
        while self._close_reason is None:
            seen = self._messages
            try:
                await workflow.wait_condition(
                    lambda seen=seen: self._close_reason is not None or self._messages != seen,  # type: ignore[misc]
                    timeout=params.auto_close_after,
                )
            except TimeoutError:
                self._close_reason = "quiet_period"

    def _settled(self) -> bool:
        return self._replied or self._close_reason is not None

    async def _record_stage(self, consultation_id: str, stage: str, due_at: datetime | None) -> None:
        await workflow.execute_activity(
            "consultation.record_stage",
            RecordStageInput(
                consultation_id=consultation_id,
                stage=stage,
                due_at=due_at,
                idempotency_key=str(workflow.uuid4()),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )

    @workflow.signal
    def close(self, reason: str) -> None:
        """The client (or an agent) closed the consultation."""
        if self._close_reason is None:
            self._close_reason = reason

    @workflow.signal
    def message_posted(self, message: MessagePosted) -> None:
        """Someone wrote on the consultation; the assigned lawyer's first reply stops the reply clock."""
        self._messages += 1
        if message.first_lawyer_reply:
            self._replied = True
            if self._stage != "closed":
                self._stage = "answered"

    @workflow.query
    def stage(self) -> str:
        return self._stage

    @workflow.query
    def breaches(self) -> int:
        return self._breaches

    @workflow.query
    def lawyer_id(self) -> str:
        return self._lawyer_id
