"""SigningKeyRotationWorkflow (`identity-signing-key-rotation`, issue 17 item 7, R-OPS-3): identity's
token-signing key is replaced every `period` (30 days) — a Temporal timer, like every clock of counsel, so the
next rotation is a due time anyone can read (`next_rotation_at`) and a rotation missed while the platform
was down happens when it comes back. Identity publishes each new key before signing with it, and keeps
the retired one in the JWKS until its tokens expire, so no token is ever refused for a rotation.

Started once by the worker (one workflow id; starting it again finds the running one); it continues as new
every `rotations_per_run` rotations so its history stays short."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.shared import SIGNING_KEY_ROTATION_WORKFLOW, RotatedKey, SigningKeyRotationInput

ROTATE_TIMEOUT = timedelta(seconds=30)
ROTATE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=10))


@workflow.defn(name=SIGNING_KEY_ROTATION_WORKFLOW)
class SigningKeyRotationWorkflow:
    def __init__(self) -> None:
        self._next_rotation_at: datetime | None = None
        self._rotated: list[str] = []

    @workflow.run
    async def run(self, params: SigningKeyRotationInput) -> None:
        for _ in range(params.rotations_per_run):
            self._next_rotation_at = workflow.now() + params.period
            await workflow.sleep(params.period)
            rotated = await workflow.execute_activity(
                "identity.rotate_signing_key",
                # A retry after a rotation that went through (answer lost) makes no second key.
                params.period / 2,
                start_to_close_timeout=ROTATE_TIMEOUT,
                retry_policy=ROTATE_RETRY,
                result_type=RotatedKey,
            )
            self._rotated.append(rotated.kid)
        workflow.continue_as_new(params)

    @workflow.query
    def next_rotation_at(self) -> datetime | None:
        """When the next key is made: the rotation's due time."""
        return self._next_rotation_at

    @workflow.query
    def rotated(self) -> list[str]:
        """Key ids made by this run, oldest first."""
        return list(self._rotated)
