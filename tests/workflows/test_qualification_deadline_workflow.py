"""QualificationDeadlineWorkflow on the time-skipping test server (issue 24 items 1 and 2): a firm's
agreement warns the operator 30 days before its end and, when its last day is over, has the catalog
republish its lawyers' standing; a lawyer's inspection date only lapses. Both due times are queryable."""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.catalog import qualifications
from services.catalog.workflow_link import QualificationClocks
from workflows.qualifications import QualificationDeadlineWorkflow
from workflows.shared import QualificationDeadlineInput, firm_agreement_workflow_id

WARNING = timedelta(days=qualifications.AGREEMENT_WARNING_DAYS)


class FakeCatalog:
    """Stands in for CatalogInternalService: records what the clocks told it, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []

    @activity.defn(name="catalog.warn_agreement_ending")
    async def warn_agreement_ending(self, params: QualificationDeadlineInput) -> None:
        self.calls.append(("warn", params.firm_id, params.ends_on.isoformat()))

    @activity.defn(name="catalog.refresh_lawyer_standing")
    async def refresh_lawyer_standing(self, params: QualificationDeadlineInput) -> None:
        self.calls.append(("refresh", params.firm_id or params.lawyer_id, params.ends_on.isoformat()))


def worker(env: WorkflowEnvironment, catalog: FakeCatalog, task_queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[QualificationDeadlineWorkflow],
        activities=[catalog.warn_agreement_ending, catalog.refresh_lawyer_standing],
    )


async def start(
    env: WorkflowEnvironment, task_queue: str, params: QualificationDeadlineInput
) -> WorkflowHandle:
    return await env.client.start_workflow(
        QualificationDeadlineWorkflow.run, params, id=f"deadline-{uuid.uuid4().hex}", task_queue=task_queue
    )


async def test_an_agreement_warns_30_days_ahead_then_lapses_when_its_last_day_ends(
    env: WorkflowEnvironment,
) -> None:
    catalog, task_queue = FakeCatalog(), f"tq-{uuid.uuid4().hex}"
    now = await env.get_current_time()
    ends_on = qualifications.today_in_china(now) + timedelta(days=40)
    lapses_at = qualifications.day_ends(ends_on)
    async with worker(env, catalog, task_queue):
        handle = await start(
            env,
            task_queue,
            QualificationDeadlineInput(
                firm_id="f1", ends_on=ends_on, lapses_at=lapses_at, warn_before=WARNING
            ),
        )
        status = await handle.query(QualificationDeadlineWorkflow.status)
        assert status is not None and (status.warn_at, status.lapses_at) == (lapses_at - WARNING, lapses_at)
        assert not status.warned and not status.lapsed
        await env.sleep(lapses_at - WARNING - now - timedelta(hours=1))
        assert catalog.calls == []  # not before its time
        await env.sleep(timedelta(hours=2))
        assert catalog.calls == [("warn", "f1", ends_on.isoformat())]
        status = await handle.query(QualificationDeadlineWorkflow.status)
        assert status is not None and status.warned and not status.lapsed
        await env.sleep(WARNING - timedelta(hours=2))
        assert len(catalog.calls) == 1  # the last day still counts
        await handle.result()  # skips to the end of the last day
        assert catalog.calls[1] == ("refresh", "f1", ends_on.isoformat())
        status = await handle.query(QualificationDeadlineWorkflow.status)
        assert status is not None and status.lapsed


async def test_an_inspection_date_lapses_without_a_warning(env: WorkflowEnvironment) -> None:
    catalog, task_queue = FakeCatalog(), f"tq-{uuid.uuid4().hex}"
    now = await env.get_current_time()
    due_on = qualifications.today_in_china(now) + timedelta(days=10)
    async with worker(env, catalog, task_queue):
        handle = await start(
            env,
            task_queue,
            QualificationDeadlineInput(
                lawyer_id="l1", ends_on=due_on, lapses_at=qualifications.day_ends(due_on)
            ),
        )
        status = await handle.query(QualificationDeadlineWorkflow.status)
        assert status is not None and status.warn_at is None
        await handle.result()
        assert catalog.calls == [("refresh", "l1", due_on.isoformat())]


async def test_a_warning_already_due_is_given_at_once(env: WorkflowEnvironment) -> None:
    """An agreement recorded with less than 30 days left warns straight away."""
    catalog, task_queue = FakeCatalog(), f"tq-{uuid.uuid4().hex}"
    now = await env.get_current_time()
    ends_on = qualifications.today_in_china(now) + timedelta(days=5)
    async with worker(env, catalog, task_queue):
        handle = await start(
            env,
            task_queue,
            QualificationDeadlineInput(
                firm_id="f2", ends_on=ends_on, lapses_at=qualifications.day_ends(ends_on), warn_before=WARNING
            ),
        )
        await handle.result()
        assert [call[0] for call in catalog.calls] == ["warn", "refresh"]


async def test_a_grace_period_runs_on_the_agreements_clock(env: WorkflowEnvironment) -> None:
    """Issue 24: a firm from before onboarding works on a grace period (catalog migration 0011), whose clock the
    catalog starts at every start as an agreement's (QualificationClocks.agreement): the due times are
    visible, the operator is warned 30 days before its last day and the firm's standing lapses when that day
    ends; the next start of the catalog starts nothing new."""
    catalog, task_queue = FakeCatalog(), f"tq-{uuid.uuid4().hex}"
    now = await env.get_current_time()
    grace_ends_on = qualifications.today_in_china(now) + timedelta(days=90)
    lapses_at = qualifications.day_ends(grace_ends_on)
    clocks = QualificationClocks(env.client, task_queue)
    async with worker(env, catalog, task_queue):
        for _ in range(2):  # two starts of the catalog
            await clocks.agreement("legacy", grace_ends_on)
        handle = env.client.get_workflow_handle(firm_agreement_workflow_id("legacy", grace_ends_on))
        status = await handle.query(QualificationDeadlineWorkflow.status)
        assert status is not None and (status.warn_at, status.lapses_at) == (lapses_at - WARNING, lapses_at)
        await env.sleep(lapses_at - WARNING - now - timedelta(hours=1))
        assert catalog.calls == []
        await env.sleep(WARNING + timedelta(hours=2))
        status = await handle.query(QualificationDeadlineWorkflow.status)
        assert status is not None and status.warned and status.lapsed
    assert catalog.calls == [
        ("warn", "legacy", grace_ends_on.isoformat()),
        ("refresh", "legacy", grace_ends_on.isoformat()),
    ]
