"""The signed-in user's own account: profile, linked login methods, membership cards, data export."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import paging_pb2
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.documents.v1 import documents_service_pb2 as documents_pb
from counsel.identity.v1 import identity_service_pb2 as pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.gateway import export
from services.gateway.clients import Clients
from services.gateway.deps import ClientsDep, CurrentPrincipal, client_ip
from services.gateway.export_files import INLINE_LIMIT_BYTES, ExportFiles
from services.gateway.export_files import Export as StoredExport
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
    PendingExport,
    StaffAccess,
    UpdateMe,
)
from services.runtime.context import Principal
from services.runtime.errors import Conflict, NotFound, Unavailable

router = api_router("identity")
log = logging.getLogger(__name__)

# The ZIP goes out in pieces of this size.
ZIP_READ_BYTES = 256 * 1024
JSON, ZIP = "application/json", "application/zip"


@router.get("/api/v1/me", response_model=Me)
async def me(principal: CurrentPrincipal, clients: ClientsDep) -> Me:
    """Your profile, roles, enterprise and linked login methods; a lawyer's own catalog profile (`lawyer_id`)."""
    return await _me(principal, clients)


async def _me(principal: Principal, clients: Clients) -> Me:
    if not principal.has_role("lawyer"):
        return Me.from_me(await clients.identity.GetMe(pb.GetMeRequest()))
    reply, own = await asyncio.gather(
        clients.identity.GetMe(pb.GetMeRequest()),
        clients.catalog.GetOwnLawyer(catalog_pb.GetOwnLawyerRequest()),
    )
    return Me.from_me(reply, own.lawyer.id if own.HasField("lawyer") else None)


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
    return await _me(principal, clients)


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


@router.get(
    "/api/v1/me/export",
    response_model=dict[str, Any],
    responses={
        200: {"content": {"application/zip": {}}, "description": "JSON, or a ZIP when asked"},
        202: {"model": PendingExport, "description": "Large: produced in the background, fetch `url`"},
    },
)
async def export_my_data(
    request: Request,
    principal: CurrentPrincipal,
    clients: ClientsDep,
    format: Annotated[Literal["json", "zip"] | None, Query(description="zip: with the files")] = None,
) -> Response:
    """Everything the platform holds about you (PIPL), from all seven services, as one JSON document
    (docs/privacy.md, "Export"); `?format=zip` or `Accept: application/zip` adds the files of your document
    versions beside it. Only your own records: an enterprise member gets theirs, not colleagues'. Audited.

    Above 8 MiB (or with `Prefer: respond-async`) the answer is 202 with a link, `GET /api/v1/me/exports/{id}`,
    that works for you alone for 24 hours."""
    as_zip = format == "zip" or (format is None and "application/zip" in request.headers.get("accept", ""))
    parts = await export.read_parts(clients)
    if as_zip:
        size = sum(v.size_bytes for o in parts.documents.document_orders for v in o.versions)
        document = export.encode(export.join(parts, with_files=True))
        media_type = ZIP
    else:
        size = 0
        document = export.encode(export.join(parts, with_files=False))
        media_type = JSON
    if size + len(document) > INLINE_LIMIT_BYTES or "respond-async" in request.headers.get("prefer", ""):
        return await _in_background(request, principal.user_id, media_type, clients, parts, document)
    if as_zip:
        archive = await export.write_zip(clients, parts)
        return StreamingResponse(
            iter(lambda: archive.read(ZIP_READ_BYTES), b""),
            media_type=ZIP,
            headers=_download_headers(ZIP),
            background=BackgroundTask(archive.close),
        )
    return Response(document, media_type=JSON, headers=_download_headers(JSON))


@router.get(
    "/api/v1/me/exports/{export_id}",
    response_model=dict[str, Any],
    responses={
        200: {"content": {"application/zip": {}}, "description": "The export, as it was asked for"},
        202: {"model": PendingExport, "description": "Still being produced: ask again after Retry-After"},
    },
)
async def my_export(
    export_id: Annotated[str, Path(max_length=64)], request: Request, principal: CurrentPrincipal
) -> Response:
    """An export produced in the background. 404 once its link has expired (24 hours) and for anyone but the
    person who asked for it; 409 when producing it failed (ask for a new one)."""
    found = await _export_files(request).get(export_id, principal.user_id)
    if found is None:
        raise NotFound("no such export")  # unknown, expired or someone else's: never say which
    if found.state == "failed":
        raise Conflict("producing this export failed: ask for a new one", reason="export_failed")
    if found.state == "pending":
        return _pending(found)
    return Response(found.content, media_type=found.media_type, headers=_download_headers(found.media_type))


async def _in_background(
    request: Request,
    owner: str,
    media_type: str,
    clients: Clients,
    parts: export.ServiceParts,
    document: bytes,
) -> Response:
    files = _export_files(request)
    pending = await files.start(owner, media_type)

    async def produce() -> None:
        try:
            if media_type == ZIP:
                with await export.write_zip(clients, parts) as archive:
                    content = archive.read()
            else:
                content = document
            await files.finish(pending, owner, content)
        except Exception:
            log.exception("producing an export failed", extra={"export_id": pending.id})
            await files.fail(pending, owner)

    # The task runs with this request's context, so its calls carry the person's token; a reference is
    # kept until it ends (the event loop holds tasks only weakly).
    tasks: set[asyncio.Task[None]] = request.app.state.export_tasks
    task = asyncio.create_task(produce())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return _pending(pending)


def _export_files(request: Request) -> ExportFiles:
    files: ExportFiles | None = request.app.state.export_files
    if files is None:
        raise Unavailable(
            "exports produced in the background are unavailable: the object store is unreachable"
        )
    return files


def _pending(pending: StoredExport) -> JSONResponse:
    url = f"/api/v1/me/exports/{pending.id}"
    body = PendingExport(id=pending.id, status="pending", url=url, expires_at=pending.expires_at.isoformat())
    return JSONResponse(
        body.model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": url, "Retry-After": "2", "Cache-Control": "no-store"},
    )


def _download_headers(media_type: str) -> dict[str, str]:
    name = "counsel-export.zip" if media_type == ZIP else "counsel-export.json"
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


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
