"""ConsultationService's complaint RPCs (R-CS-3): a client's complaint about any of their services, worked by
agents, and the two calls of its response clock's workflow. Part of ConsultationServicer (server.py)."""

from __future__ import annotations

import grpc

from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.consultation import domain
from services.consultation.models import ComplaintRow
from services.consultation.store import ConsultationStores
from services.runtime.context import current_principal
from services.runtime.errors import InvalidArgument
from services.runtime.records import from_timestamp, page_size, to_timestamp


def complaint_proto(row: ComplaintRow) -> pb.Complaint:
    return pb.Complaint(
        id=row.id,
        consultation_id=row.consultation_id or "",
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        status=row.status,
        body=row.body,
        resolution=row.resolution,
        handled_by=row.handled_by,
        reopen_reason=row.reopen_reason,
        due_at=to_timestamp(row.due_at),
        escalated_at=to_timestamp(row.escalated_at),
        created_at=to_timestamp(row.created_at),
        updated_at=to_timestamp(row.updated_at),
    )


class ComplaintRpcs:
    stores: ConsultationStores

    async def EscalateComplaint(
        self, request: pb.EscalateComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.EscalateComplaintResponse:
        domain.require_internal(current_principal())
        if not request.HasField("missed_due_at"):
            raise InvalidArgument.for_field("missed_due_at", "must be set")
        escalated = await self.stores.complaints.escalate(
            request.complaint_id, from_timestamp(request.missed_due_at)
        )
        return pb.EscalateComplaintResponse(already_answered=not escalated)

    async def CloseComplaint(
        self, request: pb.CloseComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseComplaintResponse:
        domain.require_internal(current_principal())
        row = await self.stores.complaints.close_unanswered(request.complaint_id)
        return pb.CloseComplaintResponse(complaint=complaint_proto(row))

    async def RaiseComplaint(
        self, request: pb.RaiseComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.RaiseComplaintResponse:
        # A caller of before names the consultation alone.
        subject_type, subject_id = (
            (request.subject_type, request.subject_id)
            if request.subject_type or request.subject_id
            else ("consultation", request.consultation_id)
        )
        row = await self.stores.complaints.raise_complaint(
            current_principal(), subject_type, subject_id, request.body, request.idempotency_key
        )
        return pb.RaiseComplaintResponse(complaint=complaint_proto(row))

    async def GetComplaint(
        self, request: pb.GetComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetComplaintResponse:
        row = await self.stores.complaints.get_complaint(current_principal(), request.complaint_id)
        return pb.GetComplaintResponse(complaint=complaint_proto(row))

    async def ReopenComplaint(
        self, request: pb.ReopenComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReopenComplaintResponse:
        row = await self.stores.complaints.reopen_complaint(
            current_principal(), request.complaint_id, request.reason
        )
        return pb.ReopenComplaintResponse(complaint=complaint_proto(row))

    async def AcceptComplaint(
        self, request: pb.AcceptComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptComplaintResponse:
        row = await self.stores.complaints.accept_complaint(current_principal(), request.complaint_id)
        return pb.AcceptComplaintResponse(complaint=complaint_proto(row))

    async def ListComplaints(
        self, request: pb.ListComplaintsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListComplaintsResponse:
        rows, next_cursor = await self.stores.complaints.list_complaints(
            current_principal(), request.status, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListComplaintsResponse(
            complaints=[complaint_proto(r) for r in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def UpdateComplaint(
        self, request: pb.UpdateComplaintRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateComplaintResponse:
        row = await self.stores.complaints.update_complaint(
            current_principal(), request.complaint_id, request.status, request.resolution
        )
        return pb.UpdateComplaintResponse(complaint=complaint_proto(row))
