"""Complaints about a client's services (R-CS-3, §6.1.4.4): a consultation, document order, booking or order,
with a response clock. Complaints live in the consultation service; a subject another service owns is
looked up there first, as the caller, so another enterprise's subject is 404 like any object not theirs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, status

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from counsel.documents.v1 import documents_service_pb2 as documents_pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.gateway.clients import Clients
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.complaints import (
    Complaint,
    ComplaintPage,
    CreateComplaint,
    RaiseComplaint,
    ReopenComplaint,
    ResolveComplaint,
    UpdateComplaint,
)

router = api_router("complaints")

# Complaining, reopening and accepting are the client's acts, handling them the agents' and supervisors'
# (API.md): refused here and again in the service.
ClientRole = Depends(require_roles("client", "client_admin"))
AgentOrSupervisor = Depends(require_roles("agent", "supervisor"))
ClientOrStaff = Depends(require_roles("client", "client_admin", "agent", "supervisor"))
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key", max_length=200, description="A retry with the same key returns the first."
    ),
]


async def check_subject_visible(clients: Clients, subject_type: str, subject_id: str) -> None:
    """NotFound (404) unless the caller sees the subject in the service that owns it. A consultation is
    checked by the consultation service itself when the complaint is raised."""
    if subject_type == "document_order":
        await clients.documents.GetDocumentOrder(
            documents_pb.GetDocumentOrderRequest(document_order_id=subject_id)
        )
    elif subject_type == "booking":
        await clients.booking.GetBooking(booking_pb.GetBookingRequest(booking_id=subject_id))
    elif subject_type == "order":
        await clients.payment.GetOrder(payment_pb.GetOrderRequest(order_id=subject_id))


@router.post(
    "/api/v1/complaints",
    response_model=Complaint,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientRole],
)
async def create_complaint(
    body: CreateComplaint,
    principal: CurrentPrincipal,
    clients: ClientsDep,
    idempotency_key: IdempotencyKey = None,
) -> Complaint:
    """A client complains about a consultation, document order, booking or order of their enterprise; the
    response clock (24 h) starts and `due_at` says when it falls due."""
    await check_subject_visible(clients, body.subject_type, body.subject_id)
    reply = await clients.consultation.RaiseComplaint(
        pb.RaiseComplaintRequest(
            subject_type=body.subject_type,
            subject_id=body.subject_id,
            body=body.body,
            idempotency_key=idempotency_key or "",
        )
    )
    return Complaint.from_proto(reply.complaint)


@router.post(
    "/api/v1/consultations/{consultation_id}/complaints",
    response_model=Complaint,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientRole],
)
async def raise_complaint(
    consultation_id: str,
    body: RaiseComplaint,
    principal: CurrentPrincipal,
    clients: ClientsDep,
    idempotency_key: IdempotencyKey = None,
) -> Complaint:
    """The same as `POST /api/v1/complaints` with `subject_type` consultation."""
    about = CreateComplaint(subject_type="consultation", subject_id=consultation_id, body=body.body)
    return await create_complaint(about, principal, clients, idempotency_key)


@router.get("/api/v1/complaints", response_model=ComplaintPage)
async def list_complaints(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    status: Annotated[
        str, Query(max_length=50, description="open|in_progress|resolved|reopened|closed")
    ] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ComplaintPage:
    """A client's enterprise's complaints, or every complaint for agents and supervisors; newest first."""
    reply = await clients.consultation.ListComplaints(
        pb.ListComplaintsRequest(status=status, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return ComplaintPage(
        items=[Complaint.from_proto(c) for c in reply.complaints], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/complaints/{complaint_id}", response_model=Complaint, dependencies=[ClientOrStaff])
async def get_complaint(complaint_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Complaint:
    """A client's own enterprise's complaint, or any for agents and supervisors."""
    reply = await clients.consultation.GetComplaint(pb.GetComplaintRequest(complaint_id=complaint_id))
    return Complaint.from_proto(reply.complaint)


@router.post("/api/v1/complaints/{complaint_id}", response_model=Complaint, dependencies=[AgentOrSupervisor])
async def update_complaint(
    complaint_id: str, body: UpdateComplaint, principal: CurrentPrincipal, clients: ClientsDep
) -> Complaint:
    """An agent takes a complaint on (`in_progress`) or resolves it with a resolution."""
    reply = await clients.consultation.UpdateComplaint(
        pb.UpdateComplaintRequest(complaint_id=complaint_id, status=body.status, resolution=body.resolution)
    )
    return Complaint.from_proto(reply.complaint)


@router.post(
    "/api/v1/complaints/{complaint_id}/resolve", response_model=Complaint, dependencies=[AgentOrSupervisor]
)
async def resolve_complaint(
    complaint_id: str, body: ResolveComplaint, principal: CurrentPrincipal, clients: ClientsDep
) -> Complaint:
    """An agent resolves the complaint: the response clock stops and the client is told."""
    reply = await clients.consultation.UpdateComplaint(
        pb.UpdateComplaintRequest(complaint_id=complaint_id, status="resolved", resolution=body.resolution)
    )
    return Complaint.from_proto(reply.complaint)


@router.post("/api/v1/complaints/{complaint_id}/reopen", response_model=Complaint, dependencies=[ClientRole])
async def reopen_complaint(
    complaint_id: str, body: ReopenComplaint, principal: CurrentPrincipal, clients: ClientsDep
) -> Complaint:
    """The client reopens a resolved complaint with a reason: a new response clock starts."""
    reply = await clients.consultation.ReopenComplaint(
        pb.ReopenComplaintRequest(complaint_id=complaint_id, reason=body.reason)
    )
    return Complaint.from_proto(reply.complaint)


@router.post("/api/v1/complaints/{complaint_id}/accept", response_model=Complaint, dependencies=[ClientRole])
async def accept_complaint(complaint_id: str, principal: CurrentPrincipal, clients: ClientsDep) -> Complaint:
    """The client accepts the resolution: the complaint is closed."""
    reply = await clients.consultation.AcceptComplaint(pb.AcceptComplaintRequest(complaint_id=complaint_id))
    return Complaint.from_proto(reply.complaint)
