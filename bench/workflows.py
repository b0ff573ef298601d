"""Workflows used only by the benchmarks, as raw baselines beside the platform's own."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity, workflow


class TimerInput(BaseModel):
    wake_at: datetime | None = None  # an absolute deadline (timer burst)
    wait: timedelta | None = None  # or a relative one (open SLA workflows)


class TimerResult(BaseModel):
    lateness_seconds: float  # how late the timer fired
    # From the start to the first workflow task's start, by the server's clock: schedule-to-start of the
    # first task, measured in the worker's own process.
    first_task_delay_seconds: float = 0.0


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
    """The same number of activities as the consultation path up to its first recorded stage, doing nothing."""

    @workflow.run
    async def run(self, activities: int) -> float:
        for _ in range(activities):
            await workflow.execute_activity(noop, start_to_close_timeout=timedelta(seconds=30))
        return (workflow.now() - workflow.info().start_time).total_seconds()
