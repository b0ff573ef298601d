"""Inputs and results of the benchmark workflows, imported into the workflow sandbox passed through (as
`workflows/shared.py` is for the platform's workflows): the sandbox re-executes a workflow's own module for
every new workflow, and building these pydantic models there was a fifth of the worker's CPU per start."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel


class TimerInput(BaseModel):
    wake_at: datetime | None = None  # an absolute deadline (timer burst)
    wait: timedelta | None = None  # or a relative one (open SLA workflows)


class TimerResult(BaseModel):
    lateness_seconds: float  # how late the timer fired
    # From the start to the first workflow task's start, by the server's clock: schedule-to-start of the
    # first task, measured in the worker's own process.
    first_task_delay_seconds: float = 0.0
