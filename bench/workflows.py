"""Workflows used only by the benchmarks, as raw baselines beside the platform's own."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from bench.shared import TimerInput, TimerResult

__all__ = ["BenchActivitiesWorkflow", "BenchTimerWorkflow", "TimerInput", "TimerResult", "noop"]


@workflow.defn
class BenchTimerWorkflow:
    @workflow.run
    async def run(self, params: TimerInput) -> TimerResult:
        first_task_delay = (workflow.now() - workflow.info().workflow_start_time).total_seconds()
        target = params.wake_at or workflow.now() + (params.wait or timedelta(0))
        delay = target - workflow.now()
        if delay > timedelta(0):
            await workflow.sleep(delay)
        return TimerResult(
            lateness_seconds=(workflow.now() - target).total_seconds(),
            first_task_delay_seconds=first_task_delay,
        )


@activity.defn(name="bench.noop")
async def noop() -> None:
    return None


@workflow.defn
class BenchActivitiesWorkflow:
    """As many activities as the consultation path up to the assignment decision, each doing nothing."""

    @workflow.run
    async def run(self, activities: int) -> float:
        for _ in range(activities):
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        return (workflow.now() - workflow.info().start_time).total_seconds()
