"""Major matters (§5.3.1, R-CON-4): escalation by the assigned lawyer, an agent or a supervisor, and the
team's conclusion. The consultation service checks who may act again (the assigned lawyer, the team)."""

from __future__ import annotations

from fastapi import Depends

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.deps import ClientsDep, CurrentPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.major_matters import EscalateMajorMatter, MajorMatter, WriteConclusion

router = api_router("consultation")

Escalator = Depends(require_roles("lawyer", "agent", "supervisor"))
TeamLawyer = Depends(require_roles("lawyer"))


@router.post(
    "/api/v1/consultations/{consultation_id}/major", response_model=MajorMatter, dependencies=[Escalator]
)
async def escalate_major_matter(
    consultation_id: str, body: EscalateMajorMatter, principal: CurrentPrincipal, clients: ClientsDep
) -> MajorMatter:
    """A team of at least two lawyers of the field is formed and an offline meeting held for the client;
    escalating again returns the same major matter. Too few lawyers: 409."""
    reply = await clients.consultation.EscalateMajorMatter(
        pb.EscalateMajorMatterRequest(
            consultation_id=consultation_id, reason=body.reason, mode=body.mode, address=body.address or ""
        )
    )
    return MajorMatter.from_proto(reply.major)


@router.post(
    "/api/v1/consultations/{consultation_id}/conclusion",
    response_model=MajorMatter,
    dependencies=[TeamLawyer],
)
async def write_conclusion(
    consultation_id: str, body: WriteConclusion, principal: CurrentPrincipal, clients: ClientsDep
) -> MajorMatter:
    """The team's written conclusion; it can change until someone signs it (then 409)."""
    reply = await clients.consultation.WriteMajorConclusion(
        pb.WriteMajorConclusionRequest(consultation_id=consultation_id, body=body.body)
    )
    return MajorMatter.from_proto(reply.major)


@router.post(
    "/api/v1/consultations/{consultation_id}/conclusion/sign",
    response_model=MajorMatter,
    dependencies=[TeamLawyer],
)
async def sign_conclusion(
    consultation_id: str, principal: CurrentPrincipal, clients: ClientsDep
) -> MajorMatter:
    """A team member signs; once every member has, the client sees the conclusion."""
    reply = await clients.consultation.SignMajorConclusion(
        pb.SignMajorConclusionRequest(consultation_id=consultation_id)
    )
    return MajorMatter.from_proto(reply.major)
