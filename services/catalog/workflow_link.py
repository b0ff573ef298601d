"""Starts the QualificationDeadlineWorkflow of each date that decides whether lawyers may take new work: a
firm's agreement end (warning the operator 30 days ahead) and a lawyer's annual inspection as submitted. The
workflow id names the date, so a renewal runs a clock of its own and a repeated start starts nothing."""

from __future__ import annotations

from datetime import date, timedelta

from temporalio.client import Client

from services.catalog import qualifications
from services.runtime.temporal import start_once
from workflows.shared import (
    QUALIFICATION_DEADLINE_WORKFLOW,
    QualificationDeadlineInput,
    firm_agreement_workflow_id,
    inspection_workflow_id,
)


class QualificationClocks:
    def __init__(self, temporal: Client, task_queue: str) -> None:
        self.temporal = temporal
        self.task_queue = task_queue

    async def agreement(self, firm_id: str, ends_on: date) -> None:
        params = QualificationDeadlineInput(
            firm_id=firm_id,
            ends_on=ends_on,
            lapses_at=qualifications.day_ends(ends_on),
            warn_before=timedelta(days=qualifications.AGREEMENT_WARNING_DAYS),
        )
        await start_once(
            self.temporal,
            QUALIFICATION_DEADLINE_WORKFLOW,
            params,
            id=firm_agreement_workflow_id(firm_id, ends_on),
            task_queue=self.task_queue,
        )

    async def inspection(self, lawyer_id: str, due_on: date) -> None:
        params = QualificationDeadlineInput(
            lawyer_id=lawyer_id, ends_on=due_on, lapses_at=qualifications.day_ends(due_on)
        )
        await start_once(
            self.temporal,
            QUALIFICATION_DEADLINE_WORKFLOW,
            params,
            id=inspection_workflow_id(lawyer_id, due_on),
            task_queue=self.task_queue,
        )
