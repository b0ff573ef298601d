"""Activities of QualificationDeadlineWorkflow: they tell the catalog what its clocks decided, over gRPC as
the worker (the policy allows CatalogInternalService to it alone). Idempotent in the service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import activity

from counsel.catalog.v1 import catalog_service_pb2 as pb
from workflows.shared import QualificationDeadlineInput

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogInternalServiceAsyncStub


class CatalogActivities:
    def __init__(self, internal: CatalogInternalServiceAsyncStub) -> None:
        self.internal = internal

    @activity.defn(name="catalog.warn_agreement_ending")
    async def warn_agreement_ending(self, params: QualificationDeadlineInput) -> None:
        await self.internal.WarnAgreementEnding(
            pb.WarnAgreementEndingRequest(
                firm_id=params.firm_id, agreement_ends_on=params.ends_on.isoformat()
            )
        )

    @activity.defn(name="catalog.refresh_lawyer_standing")
    async def refresh_lawyer_standing(self, params: QualificationDeadlineInput) -> None:
        await self.internal.RefreshLawyerStanding(
            pb.RefreshLawyerStandingRequest(firm_id=params.firm_id, lawyer_id=params.lawyer_id)
        )
