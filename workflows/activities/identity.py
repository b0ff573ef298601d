"""Activities of SigningKeyRotationWorkflow: they tell identity what the rotation clock decided, over
gRPC as the worker (the policy allows RotateSigningKey to it alone). Idempotent in the service."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING

from temporalio import activity

from counsel.identity.v1 import identity_service_pb2 as pb
from workflows.shared import RotatedKey

if TYPE_CHECKING:
    from counsel.identity.v1.identity_service_pb2_grpc import IdentityInternalServiceAsyncStub


class IdentityActivities:
    def __init__(self, stub: IdentityInternalServiceAsyncStub) -> None:
        self.stub = stub

    @activity.defn(name="identity.rotate_signing_key")
    async def rotate_signing_key(self, min_age: timedelta) -> RotatedKey:
        reply = await self.stub.RotateSigningKey(
            pb.RotateSigningKeyRequest(min_age_seconds=int(min_age.total_seconds()))
        )
        return RotatedKey(kid=reply.kid, signs_from=reply.signs_from.ToDatetime(tzinfo=UTC))
