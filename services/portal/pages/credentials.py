"""A lawyer's verification history (§4.2.1): every decision on their credentials with who, when and what was
checked, for supervisors, the operator and the admins of the lawyer's firm."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.portal.web import GatewayDep, UserDep, render, require_role

router = APIRouter(dependencies=[require_role("supervisor", "operator", "firm_admin")])


@router.get("/lawyers/{lawyer_id}/verifications", response_class=HTMLResponse)
async def verifications(
    request: Request, lawyer_id: str, session: UserDep, gateway: GatewayDep
) -> HTMLResponse:
    lawyer, history = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/lawyers/{id}", path={"id": lawyer_id}),
        gateway.call(session, "GET", "/api/v1/lawyers/{id}/verifications", path={"id": lawyer_id}),
    )
    return render(request, "verifications.html", lawyer=lawyer, history=history["items"])
