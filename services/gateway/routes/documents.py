"""Document services (API.md): document orders, drafts, review, revisions and downloads. The gateway checks
roles; the documents service checks them again with tenant scoping, stages and the author ≠ reviewer rule."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, File, Form, Path, Query, UploadFile, status
from fastapi.responses import StreamingResponse

from counsel.common.v1 import paging_pb2
from counsel.documents.v1 import documents_service_pb2 as pb
from services.gateway.deps import ClientsDep, CurrentPrincipal, SettingsDep, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.common import INT32_MAX, next_cursor
from services.gateway.schemas.documents import (
    Acknowledge,
    Assign,
    CreateDocumentOrder,
    DocumentOrder,
    DocumentOrderPage,
    Review,
    RevisionRequest,
)
from services.runtime.context import Principal
from services.runtime.errors import InvalidArgument, NotFound

router = api_router("documents")

# The service refuses anything larger; reading one byte more tells an oversized file apart without
# holding an arbitrarily large upload in memory.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# The upload's request as a whole: the file and the multipart form around it (the other fields are short).
MAX_UPLOAD_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
DRAFT_UPLOAD_PATH = re.compile(r"/api/v1/document-orders/[^/]+/drafts")
# A download streams for as long as the client reads, up to this; the default call deadline is for replies.
DOWNLOAD_TIMEOUT_SECONDS = 600.0

Agent = Annotated[Principal, Depends(require_roles("agent", "supervisor"))]
AcknowledgingAgent = Annotated[Principal, Depends(require_roles("agent"))]
Lawyer = Annotated[Principal, Depends(require_roles("lawyer"))]
Reviewer = Annotated[Principal, Depends(require_roles("reviewer"))]
Client = Annotated[Principal, Depends(require_roles("client", "client_admin"))]


@router.post(
    "/api/v1/document-orders",
    response_model=DocumentOrder,
    status_code=status.HTTP_201_CREATED,
    summary="Create a document order (dev and test only)",
    description="Until a paid order of a document product creates its document order (payment), agents "
    "create one by hand for demos and tests. Answers 404 outside COUNSEL_ENV=dev|test.",
)
async def create_document_order(
    body: CreateDocumentOrder, principal: Agent, clients: ClientsDep, settings: SettingsDep
) -> DocumentOrder:
    if not settings.dev_routes:
        raise NotFound("there is no such resource")
    reply = await clients.documents.CreateDocumentOrder(
        pb.CreateDocumentOrderRequest(
            order_id=body.order_id or f"dev-{uuid.uuid4().hex}",
            tenant_id=body.tenant_id,
            client_id=body.client_id,
            product_id=body.product_id,
            complexity=body.complexity,
            requirements=body.requirements,
        )
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.get("/api/v1/document-orders", response_model=DocumentOrderPage)
async def list_document_orders(
    principal: CurrentPrincipal,
    clients: ClientsDep,
    stage: Annotated[
        str,
        Query(
            max_length=50,
            description="awaiting_acknowledgement (agents' queue), drafting (a lawyer's), in_review (reviewers')",
        ),
    ] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> DocumentOrderPage:
    reply = await clients.documents.ListDocumentOrders(
        pb.ListDocumentOrdersRequest(
            stage=stage, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)
        )
    )
    return DocumentOrderPage(
        items=[DocumentOrder.from_proto(o) for o in reply.document_orders],
        next_cursor=next_cursor(reply.page),
    )


@router.get("/api/v1/document-orders/{document_order_id}", response_model=DocumentOrder)
async def get_document_order(
    document_order_id: str, principal: CurrentPrincipal, clients: ClientsDep
) -> DocumentOrder:
    reply = await clients.documents.GetDocumentOrder(
        pb.GetDocumentOrderRequest(document_order_id=document_order_id)
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.post("/api/v1/document-orders/{document_order_id}/acknowledge", response_model=DocumentOrder)
async def acknowledge(
    document_order_id: str,
    principal: AcknowledgingAgent,
    clients: ClientsDep,
    body: Acknowledge | None = None,
) -> DocumentOrder:
    reply = await clients.documents.AcknowledgeDocumentOrder(
        pb.AcknowledgeDocumentOrderRequest(
            document_order_id=document_order_id, note=body.note if body else ""
        )
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.post("/api/v1/document-orders/{document_order_id}/assignment", response_model=DocumentOrder)
async def assign(
    document_order_id: str, body: Assign, principal: Agent, clients: ClientsDep
) -> DocumentOrder:
    """Assign an order nobody was assigned (no lawyer had passed its legal field; it waits in the agents'
    queue with `assignment_reason` saying so): to a lawyer who has passed the field, or to another one with
    `override_reason`. 409 once the order has a lawyer or a draft."""
    reply = await clients.documents.AssignDocumentOrder(
        pb.AssignDocumentOrderRequest(
            document_order_id=document_order_id,
            lawyer_id=body.lawyer_id,
            override_reason=body.override_reason,
        )
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.post("/api/v1/document-orders/{document_order_id}/drafts", response_model=DocumentOrder)
async def upload_draft(
    document_order_id: str,
    principal: Lawyer,
    clients: ClientsDep,
    file: Annotated[UploadFile, File(description="docx, pdf, odt, txt or an image; at most 20 MiB")],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> DocumentOrder:
    content = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise InvalidArgument.for_field("file", f"must be at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    reply = await clients.documents.UploadDraft(
        pb.UploadDraftRequest(
            document_order_id=document_order_id,
            file_name=file.filename or "",
            media_type=file.content_type or "",
            content=content,
            note=note,
        )
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.post("/api/v1/document-orders/{document_order_id}/review", response_model=DocumentOrder)
async def review(
    document_order_id: str, body: Review, principal: Reviewer, clients: ClientsDep
) -> DocumentOrder:
    reply = await clients.documents.ReviewDraft(
        pb.ReviewDraftRequest(
            document_order_id=document_order_id, decision=body.decision, comment=body.comment
        )
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.post("/api/v1/document-orders/{document_order_id}/revisions", response_model=DocumentOrder)
async def request_revision(
    document_order_id: str, body: RevisionRequest, principal: Client, clients: ClientsDep
) -> DocumentOrder:
    reply = await clients.documents.RequestRevision(
        pb.RequestRevisionRequest(document_order_id=document_order_id, instructions=body.instructions)
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.post("/api/v1/document-orders/{document_order_id}/accept", response_model=DocumentOrder)
async def accept(document_order_id: str, principal: Client, clients: ClientsDep) -> DocumentOrder:
    reply = await clients.documents.AcceptDocumentOrder(
        pb.AcceptDocumentOrderRequest(document_order_id=document_order_id)
    )
    return DocumentOrder.from_proto(reply.document_order)


@router.get(
    "/api/v1/document-orders/{document_order_id}/versions/{number}/file",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
async def download_version(
    document_order_id: str,
    number: Annotated[int, Path(ge=0, le=INT32_MAX, description="Versions are numbered from 1.")],
    principal: CurrentPrincipal,
    clients: ClientsDep,
) -> StreamingResponse:
    """The file with `Repr-Digest: sha-256=:<base64>:` (RFC 9530); clients get approved versions only.

    Streamed: the documents service reads the object store chunk by chunk and the gateway passes each chunk
    on as it comes, so neither holds the whole file. A refusal (404, 403) comes before any byte; if the
    stored bytes turn out not to match the digest, the service fails the stream and the download breaks off
    short of its Content-Length instead of completing with wrong bytes."""
    if number < 1:
        raise NotFound("no such version")
    call = clients.documents.StreamVersion(
        pb.StreamVersionRequest(document_order_id=document_order_id, version_number=number),
        timeout=DOWNLOAD_TIMEOUT_SECONDS,
    )
    first = await call.read()
    if not isinstance(first, pb.StreamVersionResponse) or not first.HasField("version"):
        raise RuntimeError("the documents service sent no version metadata")
    version = first.version

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while isinstance(message := await call.read(), pb.StreamVersionResponse):
                yield message.chunk  # the stream ends with grpc.aio.EOF
        finally:
            call.cancel()  # the client went away (or the stream ended): release the call

    digest = base64.b64encode(bytes.fromhex(version.sha256)).decode()
    name = version.file_name or f"version-{number}"
    headers = {
        "Repr-Digest": f"sha-256=:{digest}:",
        "X-Content-SHA256": version.sha256,
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store",
    }
    if version.size_bytes:
        headers["Content-Length"] = str(version.size_bytes)
    return StreamingResponse(
        chunks(), media_type=version.media_type or "application/octet-stream", headers=headers
    )
