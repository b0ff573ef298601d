"""ConsultationWorkflow (`consultation-<id>`): the process of one consultation, from submission to close.

This first version records that the consultation was received and closes it when the client closes it
or after a quiet period; classification, assignment and the 24 h reply clock build on it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        CloseConsultationInput,
        ConsultationOutcome,
        ConsultationWorkflowInput,
        RecordStageInput,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class ConsultationWorkflow:
    def __init__(self) -> None:
        self._stage = "submitted"
        self._close_reason: str | None = None

    @workflow.run
    async def run(self, params: ConsultationWorkflowInput) -> ConsultationOutcome:
        await workflow.execute_activity(
            "consultation.record_stage",
            RecordStageInput(
                consultation_id=params.consultation_id,
                stage="received",
                due_at=params.submitted_at + params.reply_within if params.reply_within else None,
                idempotency_key=str(workflow.uuid4()),
            ),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._stage = "received"
        try:
            await workflow.wait_condition(
                lambda: self._close_reason is not None, timeout=params.auto_close_after
            )
        except TimeoutError:
            self._close_reason = "quiet_period"
        reason = self._close_reason or "quiet_period"
        await workflow.execute_activity(
            "consultation.close",
            CloseConsultationInput(consultation_id=params.consultation_id, reason=reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
        )
        self._stage = "closed"
        return ConsultationOutcome(consultation_id=params.consultation_id, closed_reason=reason)

    @workflow.signal
    def close(self, reason: str) -> None:
        """The client (or an agent) closed the consultation."""
        if self._close_reason is None:
            self._close_reason = reason

    @workflow.query
    def stage(self) -> str:
        return self._stage
