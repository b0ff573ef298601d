"""The gateway's document routes (API.md "Document services"): role checks before any call, multipart
uploads, downloads with `Repr-Digest` (RFC 9530), the dev-only creation route, and refusals as problems.
The documents service is a fake returning real proto messages or raising real AioRpcErrors."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import grpc
import httpx

from counsel.documents.v1 import documents_service_pb2 as pb
from services.gateway.config import GatewaySettings
from tests.support.gateway import FakeClients, assert_problem, fields, make_client, rpc_error
from tests.support.tokens import Issuer

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PATH = "/api/v1/document-orders/d-1"


def order(**overrides: Any) -> pb.DocumentOrder:
    message = pb.DocumentOrder(
        id="d-1",
        tenant_id="tenant-1",
        order_id="o-1",
        client_id="user-1",
        stage="drafting",
        complexity="simple",
    )
    for key, value in overrides.items():
        setattr(message, key, value)
    return message


async def test_each_command_checks_the_role_before_calling_the_service(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    as_client = keys.headers(roles=("client",))
    assert_problem(await client.post(f"{PATH}/acknowledge", headers=as_client, json={}), 403)
    assert_problem(
        await client.post(
            f"{PATH}/review", headers=keys.headers(roles=("lawyer",)), json={"decision": "approve"}
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"{PATH}/drafts",
            headers=keys.headers(roles=("agent",)),
            files={"file": ("a.pdf", b"%PDF", "application/pdf")},
        ),
        403,
    )
    assert_problem(
        await client.post(
            f"{PATH}/revisions", headers=keys.headers(roles=("lawyer",)), json={"instructions": "x"}
        ),
        403,
    )
    assert_problem(await client.post(f"{PATH}/accept", headers=keys.headers(roles=("agent",))), 403)
    assert_problem(await client.post("/api/v1/document-orders", headers=as_client, json={}), 403)
    assert_problem(await client.get(PATH), 401)
    assert fakes.fake("documents").calls == []


async def test_an_order_names_its_legal_field_and_where_it_came_from(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    """The field as a key beside the reason's text, so a page shows its label without reading the text."""
    waiting = order(
        stage="awaiting_acknowledgement",
        legal_field="tax",
        legal_field_source="product",
        assignment_reason="no eligible lawyer has passed tax: left to an agent (field from product)",
    )
    fakes.fake("documents").on(
        "GetDocumentOrder", lambda r: pb.GetDocumentOrderResponse(document_order=waiting)
    )
    response = await client.get(PATH, headers=keys.headers(roles=("agent",)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["legal_field"], body["legal_field_source"], body["assigned_lawyer_id"]) == (
        "tax",
        "product",
        None,
    )


async def test_a_cancelled_order_says_why_as_a_code(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    cancelled = order(stage="cancelled", status_reason="client_request")
    fakes.fake("documents").on(
        "GetDocumentOrder", lambda r: pb.GetDocumentOrderResponse(document_order=cancelled)
    )
    response = await client.get(PATH, headers=keys.headers(roles=("client",)))
    assert response.status_code == 200, response.text
    assert (response.json()["stage"], response.json()["status_reason"]) == ("cancelled", "client_request")
    fakes.fake("documents").on(
        "GetDocumentOrder", lambda r: pb.GetDocumentOrderResponse(document_order=order())
    )
    assert (await client.get(PATH, headers=keys.headers(roles=("client",)))).json()["status_reason"] is None


async def test_an_upload_is_forwarded_with_its_name_type_and_bytes(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    fakes.fake("documents").on(
        "UploadDraft", lambda r: pb.UploadDraftResponse(document_order=order(stage="in_review"))
    )
    response = await client.post(
        f"{PATH}/drafts",
        headers=keys.headers(roles=("lawyer",)),
        files={"file": ("合同.docx", b"PK\x03\x04 draft", DOCX)},
        data={"note": "初稿"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["stage"] == "in_review"
    ((method, request, _),) = fakes.fake("documents").calls
    assert method == "UploadDraft" and request.document_order_id == "d-1"
    assert (request.file_name, request.media_type, request.content, request.note) == (
        "合同.docx",
        DOCX,
        b"PK\x03\x04 draft",
        "初稿",
    )


async def test_an_oversized_upload_is_refused_naming_the_file_before_any_call(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    big = b"0" * (20 * 1024 * 1024 + 1)
    problem = assert_problem(
        await client.post(
            f"{PATH}/drafts",
            headers=keys.headers(roles=("lawyer",)),
            files={"file": ("big.pdf", big, "application/pdf")},
        ),
        422,
    )
    assert fields(problem) == ["file"]
    missing = assert_problem(
        await client.post(f"{PATH}/drafts", headers=keys.headers(roles=("lawyer",)), data={"note": "n"}), 422
    )
    assert "file" in fields(missing)
    assert fakes.fake("documents").calls == []


async def test_a_download_carries_the_versions_digest(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    """R-DOC-6 / API.md: `Repr-Digest: sha-256=:<base64>:`; the JSON carries the same digest in hex."""
    content = "采购合同 定稿".encode()
    digest = hashlib.sha256(content)
    version = pb.DocumentVersion(
        number=2,
        sha256=digest.hexdigest(),
        media_type="application/pdf",
        file_name="合同.pdf",
        status="approved",
        size_bytes=len(content),
    )
    # Streamed: the metadata first, then the chunks as the object store gives them.
    fakes.fake("documents").on(
        "StreamVersion",
        lambda r: [
            pb.StreamVersionResponse(version=version),
            pb.StreamVersionResponse(chunk=content[:5]),
            pb.StreamVersionResponse(chunk=content[5:]),
        ],
    )
    response = await client.get(f"{PATH}/versions/2/file", headers=keys.headers(roles=("client",)))
    assert response.status_code == 200
    assert response.content == content
    assert response.headers["content-length"] == str(len(content))
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["repr-digest"] == f"sha-256=:{base64.b64encode(digest.digest()).decode()}:"
    assert "filename*=UTF-8''" in response.headers["content-disposition"]
    assert fakes.fake("documents").calls[0][1].version_number == 2
    assert_problem(await client.get(f"{PATH}/versions/0/file", headers=keys.headers(roles=("client",))), 404)


async def test_a_refused_download_is_a_problem_before_any_byte(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    """A draft a client may not see is 404 from the service's first answer, not a broken stream."""
    fakes.fake("documents").on(
        "StreamVersion", lambda r: rpc_error(grpc.StatusCode.NOT_FOUND, "no such version")
    )
    assert_problem(await client.get(f"{PATH}/versions/1/file", headers=keys.headers(roles=("client",))), 404)


async def test_a_revision_after_the_window_is_a_409_with_its_reason(
    client: httpx.AsyncClient,
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    fakes.fake("documents").on(
        "RequestRevision",
        lambda r: rpc_error(
            grpc.StatusCode.FAILED_PRECONDITION, "the revision window closed", reason="revision_window_closed"
        ),
    )
    problem = assert_problem(
        await client.post(
            f"{PATH}/revisions", headers=keys.headers(roles=("client",)), json={"instructions": "再改"}
        ),
        409,
    )
    assert problem["type"].endswith("/revision_window_closed")


async def test_creating_by_hand_exists_in_dev_and_test_only(
    fakes: FakeClients,
    keys: Issuer,
) -> None:
    fakes.fake("documents").on(
        "CreateDocumentOrder",
        lambda r: pb.CreateDocumentOrderResponse(document_order=order(stage="awaiting_acknowledgement")),
    )
    body = {"tenant_id": "tenant-1", "client_id": "user-1", "complexity": "standard"}
    agent = keys.headers(roles=("agent",))
    async with make_client(GatewaySettings(env="test"), fakes, keys) as http:
        created = await http.post("/api/v1/document-orders", headers=agent, json=body)
        assert created.status_code == 201 and created.json()["stage"] == "awaiting_acknowledgement"
        bad = assert_problem(
            await http.post("/api/v1/document-orders", headers=agent, json=body | {"complexity": "trivial"}),
            422,
        )
        assert fields(bad) == ["complexity"]
    async with make_client(GatewaySettings(env="prod", secret_key="x" * 40), fakes, keys) as http:
        assert_problem(await http.post("/api/v1/document-orders", headers=agent, json=body), 404)
    assert len(fakes.fake("documents").calls) == 1
