"""Consultations: the client's questions and their answers. The service checks who may see what."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query, status

from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor
from services.gateway.schemas.consultations import (
    CallRecord,
    CloseConsultation,
    Consultation,
    ConsultationPage,
    CreateConsultation,
    EndCall,
    PostMessage,
    RateConsultation,
    Reclassify,
    StartCall,
)

router = api_router("consultation")

# Staff-only operations are refused at the gateway too (R-PRIV-1); the service checks the same roles again.
LawyerRole = Depends(require_roles("lawyer"))
Agent = Depends(require_roles("agent"))
AgentOrSupervisor = Depends(require_roles("agent", "supervisor"))
# Asking, rating and complaining are a client's acts (API.md); staff are refused here and again in the service.
ClientRole = Depends(require_roles("client", "client_admin"))

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="A retry with the same key returns the first result.",
    ),
]


@router.post(
    "/api/v1/consultations",
    response_model=Consultation,
    status_code=status.HTTP_201_CREATED,
    dependencies=[ClientRole],
)
async def create_consultation(
    body: CreateConsultation,
    principal: CurrentPrincipal,
    clients: ClientsDep,
    idempotency_key: IdempotencyKey = None,
) -> Consultation:
    reply = await clients.consultation.CreateConsultation(
        pb.CreateConsultationRequest(
            kind=body.kind,
            subject=body.subject,
            question=body.question,
            order_id=body.order_id or "",
            idempotency_key=idempotency_key or "",
        )
    )
    return Consultation.from_proto(reply.consultation)


@router.get("/api/v1/consultations", response_model=ConsultationPage)
async def list_consultations(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    status: Annotated[str, Query(max_length=50, description="submitted|assigned|answered|closed")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ConsultationPage:
    reply = await clients.consultation.ListConsultations(
        pb.ListConsultationsRequest(
            status=status, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)
        )
    )
    return ConsultationPage(
        items=[Consultation.from_proto(c) for c in reply.consultations], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/consultations/{consultation_id}", response_model=Consultation)
async def get_consultation(
    consultation_id: str, principal: CurrentPrincipal, clients: ClientsDep
) -> Consultation:
    reply = await clients.consultation.GetConsultation(
        pb.GetConsultationRequest(consultation_id=consultation_id)
    )
    return Consultation.from_proto(reply.consultation)


@router.post("/api/v1/consultations/{consultation_id}/close", response_model=Consultation)
async def close_consultation(
    consultation_id: str,
    principal: CurrentPrincipal,
    clients: ClientsDep,
    body: CloseConsultation | None = None,
) -> Consultation:
    reply = await clients.consultation.CloseConsultation(
        pb.CloseConsultationRequest(
            consultation_id=consultation_id, reason=(body.reason if body else None) or ""
        )
    )
    return Consultation.from_proto(reply.consultation)


@router.post("/api/v1/consultations/{consultation_id}/messages", response_model=Consultation)
async def post_message(
    consultation_id: str, body: PostMessage, principal: CurrentPrincipal, clients: ClientsDep
) -> Consultation:
    """A follow-up or a reply by the client, the assigned lawyer or an agent; the assigned lawyer's first
    reply stops the 24 h clock (R-CON-2). Others: 404 (cannot see it) or 403 (can see, cannot write)."""
    reply = await clients.consultation.PostMessage(
        pb.PostMessageRequest(consultation_id=consultation_id, body=body.body)
    )
    return Consultation.from_proto(reply.consultation)


@router.post(
    "/api/v1/consultations/{consultation_id}/rating", response_model=Consultation, dependencies=[ClientRole]
)
async def rate_consultation(
    consultation_id: str, body: RateConsultation, principal: CurrentPrincipal, clients: ClientsDep
) -> Consultation:
    """The client rates an answered or closed consultation, once (R-Q-1)."""
    reply = await clients.consultation.RateConsultation(
        pb.RateConsultationRequest(consultation_id=consultation_id, rating=body.rating, comment=body.comment)
    )
    return Consultation.from_proto(reply.consultation)


@router.post(
    "/api/v1/consultations/{consultation_id}/classification",
    response_model=Consultation,
    dependencies=[AgentOrSupervisor],
)
async def reclassify_consultation(
    consultation_id: str, body: Reclassify, principal: CurrentPrincipal, clients: ClientsDep
) -> Consultation:
    """An agent classifies by hand (`needs_manual_classification`, or a wrong guess); an unanswered
    consultation moves to a lawyer of the new field, keeping its due times (R-CON-2)."""
    reply = await clients.consultation.ReclassifyConsultation(
        pb.ReclassifyConsultationRequest(consultation_id=consultation_id, legal_field=body.legal_field)
    )
    return Consultation.from_proto(reply.consultation)


@router.get("/api/v1/lawyer/queue", response_model=ConsultationPage, dependencies=[LawyerRole])
async def lawyer_queue(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ConsultationPage:
    """The calling lawyer's assigned, unanswered consultations, earliest due first."""
    reply = await clients.consultation.ListLawyerQueue(
        pb.ListLawyerQueueRequest(page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return ConsultationPage(
        items=[Consultation.from_proto(c) for c in reply.consultations], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/agent/at-risk", response_model=ConsultationPage, dependencies=[AgentOrSupervisor])
async def consultations_at_risk(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    within_minutes: Annotated[int, Query(ge=0, le=10080, description="0 = 120 minutes")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> ConsultationPage:
    """Agents' and supervisors' dashboard: unanswered consultations due within the window (2 h by default)
    or already overdue, earliest first."""
    reply = await clients.consultation.ListAtRisk(
        pb.ListAtRiskRequest(within_minutes=within_minutes, limit=limit or 0)
    )
    return ConsultationPage(items=[Consultation.from_proto(c) for c in reply.consultations], next_cursor=None)


@router.post(
    "/api/v1/consultations/{consultation_id}/calls",
    response_model=CallRecord,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Agent],
)
async def start_call(
    consultation_id: str, body: StartCall, principal: CurrentPrincipal, clients: ClientsDep
) -> CallRecord:
    """An agent bridges a phone consultation to a lawyer (R-CON-3, §6.2.1.3); 409 `not_assignable` with the
    reason when the lawyer takes no new work (not verified, their firm's agreement ended, inspection overdue)."""
    reply = await clients.consultation.StartCall(
        pb.StartCallRequest(consultation_id=consultation_id, lawyer_id=body.lawyer_id)
    )
    return CallRecord.from_proto(reply.call)


@router.post(
    "/api/v1/consultations/{consultation_id}/calls/{call_id}/end",
    response_model=CallRecord,
    dependencies=[Agent],
)
async def end_call(
    consultation_id: str, call_id: str, body: EndCall, principal: CurrentPrincipal, clients: ClientsDep
) -> CallRecord:
    """An agent ends the call with its outcome; the call record is kept (§6.2.4.4)."""
    reply = await clients.consultation.EndCall(
        pb.EndCallRequest(consultation_id=consultation_id, call_id=call_id, outcome=body.outcome)
    )
    return CallRecord.from_proto(reply.call)
