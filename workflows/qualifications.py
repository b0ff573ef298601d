"""QualificationDeadlineWorkflow (issue 24 items 1 and 2, §4.1.2, §4.2.1): the clock of a date that decides
whether lawyers may take new work — a firm's cooperation agreement end (`firm-agreement-<firm>-<date>`,
warning the operator `warn_before` ahead, 30 days) or a lawyer's annual inspection
(`lawyer-inspection-<lawyer>-<date>`). When the date's Beijing day ends, the catalog republishes the lawyers'
standing, so consultation and documents stop assigning them; booking and the listings ask the catalog, which
checks the date itself. Both due times are queryable (`status`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.shared import (
        QUALIFICATION_DEADLINE_WORKFLOW,
        QualificationDeadlineInput,
        QualificationDeadlineStatus,
    )

CALL_TIMEOUT = timedelta(seconds=30)
CALL_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))


@workflow.defn(name=QUALIFICATION_DEADLINE_WORKFLOW)
class QualificationDeadlineWorkflow:
    def __init__(self) -> None:
        self._status: QualificationDeadlineStatus | None = None

    @workflow.run
    async def run(self, params: QualificationDeadlineInput) -> None:
        warn_at = params.lapses_at - params.warn_before if params.warn_before is not None else None
        self._status = QualificationDeadlineStatus(
            warn_at=warn_at, lapses_at=params.lapses_at, warned=False, lapsed=False
        )
        if warn_at is not None:
            await self._sleep_until(warn_at)
            await workflow.execute_activity(
                "catalog.warn_agreement_ending",
                params,
                start_to_close_timeout=CALL_TIMEOUT,
                retry_policy=CALL_RETRY,
            )
            self._status.warned = True
        await self._sleep_until(params.lapses_at)
        await workflow.execute_activity(
            "catalog.refresh_lawyer_standing",
            params,
            start_to_close_timeout=CALL_TIMEOUT,
            retry_policy=CALL_RETRY,
        )
        self._status.lapsed = True

    async def _sleep_until(self, at: datetime) -> None:
        remaining = at - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)

    @workflow.query
    def status(self) -> QualificationDeadlineStatus | None:
        """The due times (warning, lapse) and which have passed."""
        return self._status
