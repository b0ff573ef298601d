"""Staff work queues, each what the API gives that role: the agent's document orders awaiting acknowledgement
and at-risk consultations, the lawyer's online calls ringing, consultations by due time and drafts to write, the
reviewer's drafts to review, and the supervisor's SLA board."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.session import Session
from services.portal.web import GatewayDep, UserDep, render, require_role

router = APIRouter()

DOCUMENT_STAGES = ("awaiting_acknowledgement", "drafting", "in_review", "delivered", "revising")
# What of a lawyer's profile the workbench shows as their standing, and how long the session keeps it.
STANDING_FIELDS = ("verification", "inspection_due_on", "unavailable_reason")
STANDING_MAX_AGE_SECONDS = 60.0


async def documents_in_stage(session: Any, gateway: GatewayDep, stage: str) -> list[dict[str, Any]]:
    """The document orders in `stage` the user may see, soonest due first (the first 100)."""
    page = await gateway.call(
        session, "GET", "/api/v1/document-orders", params={"stage": stage, "limit": 100}
    )
    items: list[dict[str, Any]] = page["items"]
    return items


async def _own_standing(session: Session, gateway: GatewayDep) -> dict[str, Any] | None:
    """The lawyer's own standing (verification, inspection date, why they take no new work); None without a
    profile. Kept in the session: the workbench refreshes itself while a lawyer waits for calls, and only
    others change the standing (a verification, an inspection date, the firm's agreement), so it is read
    again once older than STANDING_MAX_AGE_SECONDS; the profile's id is asked for once."""
    if session.standing is not None and time.time() - session.standing_read_at < STANDING_MAX_AGE_SECONDS:
        return session.standing
    lawyer_id = session.lawyer_id or (await gateway.call(session, "GET", "/api/v1/me")).get("lawyer_id")
    if not lawyer_id:
        return None
    profile = await gateway.call(session, "GET", "/api/v1/lawyers/{id}", path={"id": lawyer_id})
    session.keep_standing(lawyer_id, {name: profile.get(name) for name in STANDING_FIELDS})
    return session.standing


@router.get("/work", response_class=HTMLResponse)
async def work(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    """The signed-in staff member's queues, by their roles."""
    queues: dict[str, Any] = {}
    if session.has_role("agent"):
        queues["acknowledge"], queues["at_risk"] = await asyncio.gather(
            documents_in_stage(session, gateway, "awaiting_acknowledgement"),
            gateway.call(session, "GET", "/api/v1/agent/at-risk", params={"limit": 50}),
        )
    if session.has_role("lawyer"):
        (
            queues["calls"],
            queues["consultations"],
            queues["drafting"],
            queues["revising"],
            queues["standing"],
        ) = await asyncio.gather(
            gateway.call(session, "GET", "/api/v1/calls", params={"status": "ringing"}),
            gateway.call(session, "GET", "/api/v1/lawyer/queue", params={"limit": 50}),
            documents_in_stage(session, gateway, "drafting"),
            documents_in_stage(session, gateway, "revising"),
            _own_standing(session, gateway),
        )
    if session.has_role("reviewer"):
        queues["review"] = await documents_in_stage(session, gateway, "in_review")
    return render(request, "work.html", queues=queues)


@router.get("/work/sla", response_class=HTMLResponse, dependencies=[require_role("supervisor", "agent")])
async def sla_board(
    request: Request, session: UserDep, gateway: GatewayDep, verify_ledger: bool = False
) -> HTMLResponse:
    """Every clock running now: document orders by stage with their due times, at-risk consultations and
    open complaints; refreshed in place by the page's script. A supervisor asks for the payment ledger's
    hash chain to be verified (`verify_ledger`): it walks the whole ledger, so not on every refresh."""
    stages = await asyncio.gather(*(documents_in_stage(session, gateway, stage) for stage in DOCUMENT_STAGES))
    at_risk, complaints = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/agent/at-risk", params={"limit": 100}),
        gateway.call(session, "GET", "/api/v1/complaints", params={"limit": 100}),
    )
    ledger = (
        await gateway.call(session, "GET", "/api/v1/ledger/verify")
        if verify_ledger and session.has_role("supervisor")
        else None
    )
    return render(
        request,
        "sla.html",
        ledger=ledger,
        stages=dict(zip(DOCUMENT_STAGES, stages, strict=True)),
        at_risk=at_risk["items"],
        complaints=complaints["items"],
    )
