"""ConsultationService's major-matter RPCs (§5.3.1, R-CON-4): escalation with its team and offline meeting,
and the team's conclusion with its signatures. Part of ConsultationServicer (server.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.consultation import major
from services.consultation.models import ConsultationRow, MajorMatterRow
from services.consultation.store import ConsultationStores
from services.runtime.context import Principal, current_principal
from services.runtime.errors import Unavailable
from services.runtime.records import to_timestamp

if TYPE_CHECKING:
    from counsel.booking.v1.booking_service_pb2_grpc import BookingInternalServiceAsyncStub
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub

# The roster is read whole for the field; a field has far fewer lawyers than this.
ROSTER_PAGE = 100


def major_proto(row: MajorMatterRow, principal: Principal | None) -> pb.MajorMatter:
    """The major matter as `principal` may read it: the conclusion for the client only once concluded, the
    reason for staff only."""
    return pb.MajorMatter(
        consultation_id=row.consultation_id,
        status=row.status,
        team=row.team,
        booking_id=row.booking_id,
        reason=row.reason if major.shows_reason(principal) else "",
        escalated_by=row.escalated_by,
        conclusion=row.conclusion if major.shows_conclusion(principal, row.status, row.team) else "",
        signed_by=row.signed_by,
        created_at=to_timestamp(row.created_at),
        concluded_at=to_timestamp(row.concluded_at),
    )


class MajorMatterRpcs:
    stores: ConsultationStores
    catalog: CatalogServiceAsyncStub | None
    booking: BookingInternalServiceAsyncStub | None

    async def EscalateMajorMatter(
        self, request: pb.EscalateMajorMatterRequest, context: grpc.aio.ServicerContext
    ) -> pb.EscalateMajorMatterResponse:
        principal = current_principal()
        consultation, found = await self.stores.major_matters.escalation_target(
            principal, request.consultation_id
        )
        if found is None:
            escalation = major.validate_escalation(request.reason, request.mode, request.address)
            major.check_escalable(
                consultation.status, consultation.legal_field, consultation.needs_manual_classification
            )
            team = major.form_team(
                consultation.assigned_lawyer_id, await self._roster(consultation.legal_field)
            )
            booking_id = await self._propose_meeting(consultation, team, escalation)
            assert principal is not None  # require_escalator refused anonymous callers
            found = await self.stores.major_matters.escalate(
                principal, consultation.id, team, booking_id, escalation.reason
            )
        return pb.EscalateMajorMatterResponse(major=major_proto(found, principal))

    async def WriteMajorConclusion(
        self, request: pb.WriteMajorConclusionRequest, context: grpc.aio.ServicerContext
    ) -> pb.WriteMajorConclusionResponse:
        principal = current_principal()
        row = await self.stores.major_matters.write_conclusion(
            principal, request.consultation_id, request.body
        )
        return pb.WriteMajorConclusionResponse(major=major_proto(row, principal))

    async def SignMajorConclusion(
        self, request: pb.SignMajorConclusionRequest, context: grpc.aio.ServicerContext
    ) -> pb.SignMajorConclusionResponse:
        principal = current_principal()
        row = await self.stores.major_matters.sign_conclusion(principal, request.consultation_id)
        return pb.SignMajorConclusionResponse(major=major_proto(row, principal))

    async def _roster(self, legal_field: str) -> list[major.Candidate]:
        """The field's active lawyers from the catalog (the owner of the roster), online ones included."""
        if self.catalog is None:
            raise Unavailable("the lawyer roster is unavailable")
        candidates: list[major.Candidate] = []
        cursor = ""
        while True:
            reply = await self.catalog.ListLawyers(
                catalog_pb.ListLawyersRequest(
                    field=legal_field, page=paging_pb2.PageRequest(limit=ROSTER_PAGE, cursor=cursor)
                )
            )
            candidates.extend(
                major.Candidate(lawyer.id, lawyer.user_id, lawyer.online)
                for lawyer in reply.lawyers
                if lawyer.active
            )
            cursor = reply.page.next_cursor
            if not cursor:
                return candidates

    async def _propose_meeting(
        self, consultation: ConsultationRow, team: major.Team, escalation: major.Escalation
    ) -> str:
        """The booking held for the client with the team's lead; empty when the lead has no free slot within
        a week (the team arranges the meeting with the client then)."""
        if self.booking is None or not team.lead_lawyer_id:
            return ""
        try:
            reply = await self.booking.ProposeMeeting(
                booking_pb.ProposeMeetingRequest(
                    lawyer_id=team.lead_lawyer_id,
                    client_id=consultation.client_id,
                    tenant_id=consultation.tenant_id,
                    mode=escalation.mode,
                    address=escalation.address,
                    needs=f"重大事项会商：{consultation.subject}",
                    idempotency_key=f"major:{consultation.id}",
                )
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                return ""
            raise
        return reply.booking.id
