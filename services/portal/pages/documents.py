"""A document order's page: the client downloads approved versions, asks for revisions and accepts; the agent
acknowledges; the assigned lawyer uploads drafts; a reviewer approves or rejects. Each action is the API's,
shown only to the roles it is for (the gateway and the service decide)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from services.portal.gateway import GatewayError
from services.portal.web import FormDep, GatewayDep, UserDep, redirect, render

router = APIRouter()

PATH = "/api/v1/document-orders/{id}"
# Headers of a download passed on to the browser as they are.
DOWNLOAD_HEADERS = ("content-type", "content-length", "content-disposition", "repr-digest")


@router.get("/documents/{document_order_id}", response_class=HTMLResponse)
async def document_order(
    request: Request, document_order_id: str, session: UserDep, gateway: GatewayDep
) -> HTMLResponse:
    item = await gateway.call(session, "GET", PATH, path={"id": document_order_id})
    return render(request, "document.html", doc=item, error=None)


@router.get("/documents/{document_order_id}/versions/{number}")
async def download(document_order_id: str, number: int, session: UserDep, gateway: GatewayDep) -> Response:
    upstream = await gateway.download(
        session, PATH + "/versions/{n}/file", {"id": document_order_id, "n": str(number)}
    )
    headers = {k: v for k, v in upstream.headers.items() if k.lower() in DOWNLOAD_HEADERS}

    async def body() -> Any:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    return StreamingResponse(body(), headers=headers)


async def _act(
    request: Request, document_order_id: str, session: Any, gateway: GatewayDep, action: str, **call: Any
) -> Response:
    try:
        await gateway.call(session, "POST", PATH + action, path={"id": document_order_id}, **call)
    except GatewayError as exc:
        item = await gateway.call(session, "GET", PATH, path={"id": document_order_id})
        return render(request, "document.html", exc.status, doc=item, error=exc)
    return redirect(f"/documents/{document_order_id}")


@router.post("/documents/{document_order_id}/acknowledge", response_class=HTMLResponse)
async def acknowledge(
    request: Request, document_order_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    note = str(form.get("note") or "")
    return await _act(request, document_order_id, session, gateway, "/acknowledge", json={"note": note})


@router.post("/documents/{document_order_id}/drafts", response_class=HTMLResponse)
async def upload_draft(
    request: Request, document_order_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        raise HTTPException(422)
    content = await file.read()
    return await _act(
        request,
        document_order_id,
        session,
        gateway,
        "/drafts",
        files={"file": (file.filename, content, file.content_type or "application/octet-stream")},
        data={"note": str(form.get("note") or "")},
    )


@router.post("/documents/{document_order_id}/review", response_class=HTMLResponse)
async def review(
    request: Request, document_order_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    body = {"decision": str(form.get("decision") or ""), "comment": str(form.get("comment") or "")}
    return await _act(request, document_order_id, session, gateway, "/review", json=body)


@router.post("/documents/{document_order_id}/revisions", response_class=HTMLResponse)
async def request_revision(
    request: Request, document_order_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    body = {"instructions": str(form.get("instructions") or "")}
    return await _act(request, document_order_id, session, gateway, "/revisions", json=body)


@router.post("/documents/{document_order_id}/accept", response_class=HTMLResponse)
async def accept(
    request: Request, document_order_id: str, form: FormDep, session: UserDep, gateway: GatewayDep
) -> Response:
    return await _act(request, document_order_id, session, gateway, "/accept")
