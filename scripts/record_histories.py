"""Record workflow histories for the replay test (tests/workflows/test_replay.py).

    python scripts/record_histories.py

Runs each scenario on the time-skipping test server with no-op activities and writes the histories to
tests/workflows/histories/. Re-record only for a deliberate, patched() change; keep old files too."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from deploy.local.servers import find_binary
from workflows.consultation import ConsultationWorkflow
from workflows.shared import (
    AssignInput,
    AssignResult,
    ClassifyInput,
    ClassifyResult,
    CloseConsultationInput,
    ConsultationWorkflowInput,
    EscalateInput,
    EscalateResult,
    MessagePosted,
    RecordStageInput,
)

OUT = Path(__file__).resolve().parent.parent / "tests" / "workflows" / "histories"


@activity.defn(name="consultation.record_stage")
async def record_stage(request: RecordStageInput) -> None:
    return None


@activity.defn(name="consultation.close")
async def close(request: CloseConsultationInput) -> None:
    return None


@activity.defn(name="consultation.classify")
async def classify(request: ClassifyInput) -> ClassifyResult:
    return ClassifyResult(legal_field="labour")


@activity.defn(name="consultation.assign_lawyer")
async def assign_lawyer(request: AssignInput) -> AssignResult:
    return AssignResult(lawyer_id="lawyer-a", reason="recorded")


@activity.defn(name="consultation.escalate")
async def escalate(request: EscalateInput) -> EscalateResult:
    return EscalateResult(already_answered=False, to_lawyer_id="lawyer-b", reason="recorded")


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with (
        await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=find_binary("temporal-test-server"),
            data_converter=pydantic_data_converter,
        ) as env,
        Worker(
            env.client,
            task_queue="record",
            workflows=[ConsultationWorkflow],
            activities=[record_stage, close, classify, assign_lawyer, escalate],
        ),
    ):
        scenarios = [
            ("quiet_period", None, False),
            ("closed_by_client", "closed_by_client", False),
            ("answered_after_breach", "closed_by_client", True),
        ]
        for name, close_reason, breach_first in scenarios:
            params = ConsultationWorkflowInput(
                consultation_id=f"rec-{name}",
                tenant_id="t1",
                kind="professional",
                submitted_at=datetime(2026, 11, 29, 8, tzinfo=UTC),
                reply_within=timedelta(hours=24),
            )
            handle = await env.client.start_workflow(
                ConsultationWorkflow.run, params, id=f"consultation-rec-{name}", task_queue="record"
            )
            if breach_first:
                await env.sleep(timedelta(hours=25))
                await handle.signal(
                    ConsultationWorkflow.message_posted,
                    MessagePosted(author_role="lawyer", first_lawyer_reply=True),
                )
            if close_reason:
                await handle.signal(ConsultationWorkflow.close, close_reason)
            await handle.result()
            history = await handle.fetch_history()
            (OUT / f"consultation_{name}.json").write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(main())
