"""SigningKeyRotationWorkflow on the time-skipping test server (issue 17, item 7; R-OPS-3): identity's
signing key is rotated every period by a Temporal timer whose due time is readable, each rotation asks
identity not to make a second key on a retry, and the workflow continues as new without losing its clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.shared import RotatedKey, SigningKeyRotationInput
from workflows.signing_keys import SigningKeyRotationWorkflow

PERIOD = timedelta(days=30)


class FakeIdentity:
    """Stands in for identity's RotateSigningKey: records each call's minimum age."""

    def __init__(self) -> None:
        self.calls: list[timedelta] = []

    @activity.defn(name="identity.rotate_signing_key")
    async def rotate_signing_key(self, min_age: timedelta) -> RotatedKey:
        self.calls.append(min_age)
        return RotatedKey(kid=f"k{len(self.calls)}", signs_from=datetime.now(UTC))


async def start(env: WorkflowEnvironment, task_queue: str, **params: int) -> WorkflowHandle:
    return await env.client.start_workflow(
        SigningKeyRotationWorkflow.run,
        SigningKeyRotationInput(period=PERIOD, **params),
        id=f"rotation-{uuid.uuid4().hex}",
        task_queue=task_queue,
    )


async def test_the_key_is_rotated_every_period_on_a_timer_whose_due_time_is_visible(
    env: WorkflowEnvironment,
) -> None:
    identity, task_queue = FakeIdentity(), f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[SigningKeyRotationWorkflow],
        activities=[identity.rotate_signing_key],
    ):
        started = await env.get_current_time()
        handle = await start(env, task_queue)
        due = await handle.query(SigningKeyRotationWorkflow.next_rotation_at)
        assert due is not None and abs(due - (started + PERIOD)) < timedelta(minutes=1)
        await env.sleep(PERIOD - timedelta(hours=1))
        assert identity.calls == []  # not before its time
        await env.sleep(timedelta(hours=2))
        assert identity.calls == [PERIOD / 2]  # a retry after a rotation that went through makes no key
        assert await handle.query(SigningKeyRotationWorkflow.rotated) == ["k1"]
        next_due = await handle.query(SigningKeyRotationWorkflow.next_rotation_at)
        assert next_due is not None and abs(next_due - (due + PERIOD)) < timedelta(minutes=1)
        await env.sleep(PERIOD)
        assert len(identity.calls) == 2
        await handle.terminate()  # it never ends: its next timer must not hold the shared test server


async def test_the_clock_survives_continue_as_new(env: WorkflowEnvironment) -> None:
    identity, task_queue = FakeIdentity(), f"tq-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[SigningKeyRotationWorkflow],
        activities=[identity.rotate_signing_key],
    ):
        handle = await start(env, task_queue, rotations_per_run=1)
        await env.sleep(PERIOD - timedelta(hours=1))
        await env.sleep(timedelta(hours=2))
        assert len(identity.calls) == 1
        # One rotation per run: the next run keeps the same id and its own due time one period on.
        latest = env.client.get_workflow_handle(handle.id)
        next_due = await latest.query(SigningKeyRotationWorkflow.next_rotation_at)
        assert next_due is not None and next_due > await env.get_current_time() + PERIOD - timedelta(hours=1)
        await env.sleep(PERIOD)
        assert len(identity.calls) == 2
        await latest.terminate()


async def test_starting_it_again_keeps_the_running_one(env: WorkflowEnvironment) -> None:
    """The worker starts it at every start: one rotation clock, never two."""
    identity, task_queue = FakeIdentity(), f"tq-{uuid.uuid4().hex}"
    workflow_id = f"rotation-{uuid.uuid4().hex}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[SigningKeyRotationWorkflow],
        activities=[identity.rotate_signing_key],
    ):
        runs = {
            (
                await env.client.start_workflow(
                    SigningKeyRotationWorkflow.run,
                    SigningKeyRotationInput(period=PERIOD),
                    id=workflow_id,
                    task_queue=task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            ).result_run_id
            for _ in range(3)
        }
        assert len(runs) == 1
        await env.client.get_workflow_handle(workflow_id).terminate()
