"""The signed-in user's own account: profile, linked login methods, membership cards, data export."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import Query, Request, status
from fastapi.responses import JSONResponse

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.documents.v1 import documents_service_pb2 as documents_pb
from counsel.identity.v1 import identity_service_pb2 as pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.gateway.deps import ClientsDep, CurrentPrincipal, client_ip
from services.gateway.routing import api_router
from services.gateway.schemas.common import next_cursor, rfc3339
from services.gateway.schemas.identity import (
    AccessLog,
    Activity,
    ActivityPage,
    Erased,
    LinkCard,
    LinkedCard,
    Me,
    MembershipCard,
    StaffAccess,
    UpdateMe,
)

router = api_router("identity")


@router.get("/api/v1/me", response_model=Me)
async def me(principal: CurrentPrincipal, clients: ClientsDep) -> Me:
    """Your profile, roles, enterprise and linked login methods."""
    return Me.from_me(await clients.identity.GetMe(pb.GetMeRequest()))


@router.patch("/api/v1/me", response_model=Me)
async def update_me(body: UpdateMe, principal: CurrentPrincipal, clients: ClientsDep) -> Me:
    """Change your name, link a phone or an e-mail (with the code sent to it), or set a password."""
    await clients.identity.UpdateMe(
        pb.UpdateMeRequest(
            display_name=body.display_name or "",
            phone=body.phone or "",
            email=body.email or "",
            code=body.code or "",
            password=body.password or "",
            current_password=body.current_password or "",
        )
    )
    return Me.from_me(await clients.identity.GetMe(pb.GetMeRequest()))


@router.post("/api/v1/me/membership-card", response_model=LinkedCard)
async def link_membership_card(
    body: LinkCard, request: Request, principal: CurrentPrincipal, clients: ClientsDep
) -> LinkedCard:
    """Link an offline membership card (its number and the PIN it was handed over with) to your own
    account; from then on it logs you in with your new PIN (`new_pin`, or the generated one in the
    answer). Wrong numbers and PINs are limited like failed logins (429 with Retry-After)."""
    reply = await clients.identity.LinkMembershipCard(
        pb.LinkMembershipCardRequest(
            card_number=body.card_number,
            pin=body.pin,
            new_pin=body.new_pin or "",
            client_ip=client_ip(request),
        )
    )
    card = MembershipCard.from_proto(reply.card)
    return LinkedCard(**card.model_dump(), new_pin=reply.new_pin or None)


@router.get("/api/v1/me/export", response_model=dict[str, Any])
async def export_my_data(principal: CurrentPrincipal, clients: ClientsDep) -> JSONResponse:
    """Everything the platform's identity service holds about you (PIPL), as JSON; the export is audited."""
    reply = await clients.identity.ExportMyData(pb.ExportMyDataRequest())
    return JSONResponse(
        json.loads(reply.export_json),
        headers={
            "Content-Disposition": 'attachment; filename="counsel-export.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/api/v1/me/activity", response_model=ActivityPage)
async def my_activity(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ActivityPage:
    """Your linked history, newest first: logins, browsing, purchases, bookings and visits (§6.1.1.2)."""
    reply = await clients.identity.ListMyActivity(
        pb.ListMyActivityRequest(page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return ActivityPage(
        items=[Activity.from_proto(a) for a in reply.activities], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/me/access-log", response_model=AccessLog)
async def my_access_log(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> AccessLog:
    """Who among staff (lawyers, agents, reviewers, supervisors, law firms' systems) read your case material,
    when, and for which case, newest first — from the staff access log of every service that holds it."""
    replies = await asyncio.gather(
        clients.consultation.ListStaffAccess(consultation_pb.ListStaffAccessRequest(limit=limit)),
        clients.documents.ListStaffAccess(documents_pb.ListStaffAccessRequest(limit=limit)),
        clients.booking.ListStaffAccess(booking_pb.ListStaffAccessRequest(limit=limit)),
        clients.payment.ListStaffAccess(payment_pb.ListStaffAccessRequest(limit=limit)),
    )
    entries = sorted(
        (entry for reply in replies for entry in reply.entries), key=lambda e: e.at.ToDatetime(), reverse=True
    )
    return AccessLog(items=[StaffAccess.from_proto(entry) for entry in entries[:limit]])


@router.delete("/api/v1/me", response_model=Erased, status_code=status.HTTP_202_ACCEPTED)
async def erase_me(principal: CurrentPrincipal, clients: ClientsDep) -> Erased:
    """Erase your personal data (PIPL): done here at once, in the other services as they receive the
    `user.erased` event. Your sessions end; the (personal-data-free) audit trail remains."""
    reply = await clients.identity.EraseMe(pb.EraseMeRequest())
    return Erased(erased_at=rfc3339(reply, "erased_at"))
