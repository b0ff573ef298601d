"""A document order's page: the client downloads approved versions, asks for revisions and accepts; the agent
acknowledges; the assigned lawyer uploads drafts; a reviewer approves or rejects. Each action is the API's,
shown only to the roles it is for (the gateway and the service decide)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.web import FormDep, GatewayDep, ResourcePage, UserDep, form_file, relay

router = APIRouter()

PAGE = ResourcePage("/api/v1/document-orders/{id}", "/documents/{id}", "document.html", "doc")


@router.get("/documents/{document_order_id}", response_class=HTMLResponse)
async def document_order(request: Request, document_order_id: str, session: UserDep) -> HTMLResponse:
    return await PAGE.show(request, session, document_order_id)


@router.get("/documents/{document_order_id}/versions/{number}")
async def download(document_order_id: str, number: int, session: UserDep, gateway: GatewayDep) -> Response:
    upstream = await gateway.download(
        session, PAGE.api_path + "/versions/{n}/file", {"id": document_order_id, "n": str(number)}
    )
    return relay(upstream)


@router.post("/documents/{document_order_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(request: Request, document_order_id: str, form: FormDep, session: UserDep) -> Response:
    note = str(form.get("note") or "")
    return await PAGE.act(request, session, document_order_id, "/acknowledge", json={"note": note})


@router.post("/documents/{document_order_id}/drafts", response_class=HTMLResponse)
async def upload_draft(request: Request, document_order_id: str, form: FormDep, session: UserDep) -> Response:
    file = await form_file(form, "file")
    if file is None:
        raise HTTPException(422)
    return await PAGE.act(
        request,
        session,
        document_order_id,
        "/drafts",
        files={"file": file},
        data={"note": str(form.get("note") or "")},
    )


@router.post("/documents/{document_order_id}/review", response_class=HTMLResponse)
async def review(request: Request, document_order_id: str, form: FormDep, session: UserDep) -> Response:
    body = {"decision": str(form.get("decision") or ""), "comment": str(form.get("comment") or "")}
    return await PAGE.act(request, session, document_order_id, "/review", json=body)


@router.post("/documents/{document_order_id}/revisions", response_class=HTMLResponse)
async def request_revision(
    request: Request, document_order_id: str, form: FormDep, session: UserDep
) -> Response:
    body = {"instructions": str(form.get("instructions") or "")}
    return await PAGE.act(request, session, document_order_id, "/revisions", json=body)


@router.post("/documents/{document_order_id}/accept", response_class=HTMLResponse)
async def accept(request: Request, document_order_id: str, form: FormDep, session: UserDep) -> Response:
    return await PAGE.act(request, session, document_order_id, "/accept")
