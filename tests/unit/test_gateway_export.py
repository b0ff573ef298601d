"""The gateway's join of the person's data export (issue 20 item 5): one call per service with the caller's
own token, identity's part at the top and one object per other service, links to every version's file and
the invoice, and the ZIP with the files beside the JSON. The services are fakes answering real protos."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import money_pb2
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.documents.v1 import documents_service_pb2 as documents_pb
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.notification.v1 import notification_service_pb2 as notification_pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.export import EXPORT_FORMAT, JSON_NAME, ServiceParts, join, version_file_path
from services.gateway.export_files import LINK_TTL
from tests.support.gateway import (
    FakeClients,
    MemoryBucket,
    assert_problem,
    memory_export_files,
    rpc_error,
)
from tests.support.tokens import Issuer

PATH = "/api/v1/me/export"
SETTINGS = GatewaySettings(env="test", gateway_rate_per_ip=0, gateway_rate_per_token=0)
DRAFT = b"%PDF-1.7 the contract"
IDENTITY = {
    "exported_at": "2026-12-06T13:00:00+00:00",
    "user": {"id": "u-1", "display_name": "李雷"},
    "audit": [{"action": "data.exported"}],
}


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def version(number: int, file_name: str) -> documents_pb.DocumentVersion:
    return documents_pb.DocumentVersion(
        number=number, file_name=file_name, size_bytes=len(DRAFT), status="approved", sha256="ab"
    )


def parts() -> ServiceParts:
    """One record of every kind, as the seven services answer for user u-1."""
    return ServiceParts(
        identity=IDENTITY,
        consultation=consultation_pb.ExportConsultationDataResponse(
            consultations=[
                consultation_pb.Consultation(
                    id="c-1",
                    client_id="u-1",
                    question="我的劳动合同",
                    messages=[consultation_pb.ConsultationMessage(id="m-1", body="补充：试用期")],
                )
            ],
            conversations=[
                consultation_pb.ExportedConversation(
                    conversation=consultation_pb.ChatConversation(id="chat-1", client_id="u-1"),
                    messages=[consultation_pb.ChatMessage(id="cm-1", seq=1, body="你好")],
                )
            ],
            complaints=[
                consultation_pb.Complaint(
                    id="k-1", subject_type="consultation", subject_id="c-1", body="太慢"
                )
            ],
        ),
        documents=documents_pb.ExportDocumentsDataResponse(
            document_orders=[
                documents_pb.DocumentOrder(
                    id="d-1",
                    client_id="u-1",
                    stage="delivered",
                    versions=[version(1, "合同 初稿.pdf"), version(2, "../etc/passwd")],
                )
            ]
        ),
        booking=booking_pb.ExportBookingDataResponse(
            bookings=[booking_pb.Booking(id="b-1", client_id="u-1", status="confirmed", mode="at_firm")],
            visits=[booking_pb.Visit(id="v-1", findings="检查了合同")],
            connect_requests=[booking_pb.ConnectRequest(id="r-1", needs="尽快", mode="at_firm")],
        ),
        payment=payment_pb.ExportPaymentDataResponse(
            orders=[
                payment_pb.Order(id="o-1", client_id="u-1", status="paid"),
                payment_pb.Order(id="o-2", client_id="u-1", status="pending_payment"),
            ],
            requirements=[payment_pb.OrderRequirements(order_id="o-1", answers={"key_terms": "租金、期限"})],
            vouchers=[payment_pb.Voucher(code="V-1", order_id="o-1")],
            invoices=[
                payment_pb.Invoice(
                    number="INV-1",
                    order_id="o-1",
                    amount=money_pb2.Money(amount=99900, currency="CNY"),
                    sha256="cd",
                )
            ],
        ),
        notification=notification_pb.ExportNotificationDataResponse(
            notifications=[notification_pb.Notification(id="n-1", title="已回复")],
            deliveries=[notification_pb.Delivery(id="dl-1", channel="sms")],
            preferences=notification_pb.NotificationPreferences(marketing_consent=True),
        ),
        catalog=catalog_pb.ExportCatalogDataResponse(reviews=[catalog_pb.Review(id="rv-1", rating=5)]),
    )


def fake_services(fakes: FakeClients, answered: ServiceParts) -> None:
    fakes.fake("identity").on(
        "ExportMyData", lambda _: identity_pb.ExportMyDataResponse(export_json=json.dumps(answered.identity))
    )
    fakes.fake("consultation").on("ExportConsultationData", lambda _: answered.consultation)
    fakes.fake("documents").on("ExportDocumentsData", lambda _: answered.documents)
    fakes.fake("booking").on("ExportBookingData", lambda _: answered.booking)
    fakes.fake("payment").on("ExportPaymentData", lambda _: answered.payment)
    fakes.fake("notification").on("ExportNotificationData", lambda _: answered.notification)
    fakes.fake("catalog").on("ExportCatalogData", lambda _: answered.catalog)

    def stream(request: documents_pb.StreamVersionRequest) -> list[documents_pb.StreamVersionResponse]:
        shown = version(request.version_number, "x.pdf")
        head = documents_pb.StreamVersionResponse(version=shown)
        body = f"{request.document_order_id}/{request.version_number}:".encode() + DRAFT
        return [head, *(documents_pb.StreamVersionResponse(chunk=body[i : i + 7]) for i in range(0, 40, 7))]

    fakes.fake("documents").on("StreamVersion", stream)


def test_the_join_keeps_identitys_part_on_top_and_gives_each_service_its_object() -> None:
    document = join(parts(), with_files=False)
    assert document["format"] == EXPORT_FORMAT
    assert {key: document[key] for key in IDENTITY} == IDENTITY
    assert set(document) == {
        *IDENTITY,
        "format",
        "consultation",
        "documents",
        "payment",
        "booking",
        "notification",
        "catalog",
    }
    consultation = document["consultation"]
    assert consultation["consultations"][0]["question"] == "我的劳动合同"
    assert [m["body"] for m in consultation["consultations"][0]["messages"]] == ["补充：试用期"]
    assert [m["body"] for m in consultation["chats"][0]["messages"]] == ["你好"]
    assert consultation["chats"][0]["conversation"]["id"] == "chat-1"
    assert [c["id"] for c in consultation["complaints"]] == ["k-1"]
    assert [b["id"] for b in document["booking"]["bookings"]] == ["b-1"]
    assert [v["id"] for v in document["booking"]["visits"]] == ["v-1"]
    assert [r["id"] for r in document["booking"]["connect_requests"]] == ["r-1"]
    assert [(o["id"], o["requirements"]) for o in document["payment"]["orders"]] == [
        ("o-1", {"key_terms": "租金、期限"}),
        ("o-2", {}),
    ]
    assert [v["code"] for v in document["payment"]["vouchers"]] == ["V-1"]
    assert document["payment"]["invoices"] == [
        {
            "number": "INV-1",
            "order_id": "o-1",
            "amount": {"amount": 99900, "currency": "CNY"},
            "tax": None,
            "issued_at": None,
            "sha256": "cd",
            "download_url": "/api/v1/orders/o-1/invoice",
        }
    ]
    assert [n["id"] for n in document["notification"]["notifications"]] == ["n-1"]
    assert [d["id"] for d in document["notification"]["deliveries"]] == ["dl-1"]
    assert document["notification"]["preferences"]["marketing_consent"] is True
    assert [r["id"] for r in document["catalog"]["reviews"]] == ["rv-1"]


def test_every_version_links_its_download_and_names_its_file_in_the_zip_only_there() -> None:
    versions = join(parts(), with_files=False)["documents"]["document_orders"][0]["versions"]
    assert [v["download_url"] for v in versions] == [
        "/api/v1/document-orders/d-1/versions/1/file",
        "/api/v1/document-orders/d-1/versions/2/file",
    ]
    assert all("file" not in v for v in versions)
    zipped = join(parts(), with_files=True)["documents"]["document_orders"][0]["versions"]
    # CJK names survive; a name cannot climb out of its order's folder.
    assert [v["file"] for v in zipped] == [
        "files/document-orders/d-1/v1-合同_初稿.pdf",
        "files/document-orders/d-1/v2-etc_passwd",
    ]
    assert version_file_path("d-1", version(3, "")) == "files/document-orders/d-1/v3-file"


async def test_the_route_asks_every_service_with_the_callers_token_and_answers_json(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    fake_services(fakes, parts())
    headers = keys.headers(roles=("client",))
    response = await client.get(PATH, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == join(parts(), with_files=False)
    token = headers["authorization"].removeprefix("Bearer ")
    asked = {
        service: [(method, forwarded) for method, _, forwarded in fakes.fake(service).calls]
        for service in (
            "identity",
            "consultation",
            "documents",
            "booking",
            "payment",
            "notification",
            "catalog",
        )
    }
    assert asked == {
        "identity": [("ExportMyData", token)],
        "consultation": [("ExportConsultationData", token)],
        "documents": [("ExportDocumentsData", token)],
        "booking": [("ExportBookingData", token)],
        "payment": [("ExportPaymentData", token)],
        "notification": [("ExportNotificationData", token)],
        "catalog": [("ExportCatalogData", token)],
    }


async def test_a_zip_holds_the_document_and_every_versions_file(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    fake_services(fakes, parts())
    by_query = await client.get(PATH, params={"format": "zip"}, headers=keys.headers(roles=("client",)))
    by_accept = await client.get(
        PATH, headers={**keys.headers(roles=("client",)), "accept": "application/zip"}
    )
    for response in (by_query, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        document: dict[str, Any] = json.loads(archive.read(JSON_NAME))
        files = [v["file"] for v in document["documents"]["document_orders"][0]["versions"]]
        assert sorted(archive.namelist()) == sorted([JSON_NAME, *files])
        assert archive.read(files[0]) == b"d-1/1:" + DRAFT
        assert archive.read(files[1]) == b"d-1/2:" + DRAFT


async def test_a_service_that_cannot_answer_fails_the_export_rather_than_leaving_its_part_out(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    fake_services(fakes, parts())
    fakes.fake("booking").on("ExportBookingData", lambda _: rpc_error(grpc.StatusCode.UNAVAILABLE))
    assert_problem(await client.get(PATH, headers=keys.headers(roles=("client",))), 503)


async def test_without_a_token_nothing_is_asked(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    assert_problem(await client.get(PATH), 401)
    assert fakes.fake("identity").calls == [] and fakes.fake("documents").calls == []


async def fetched_when_ready(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    for _ in range(100):
        response = await http.get(url, headers=headers)
        if response.status_code != 202:
            return response
        await asyncio.sleep(0.01)
    raise AssertionError(f"{url} never became ready")


async def test_a_large_export_is_answered_202_with_a_link_for_its_owner_alone(
    fakes: FakeClients, keys: Issuer
) -> None:
    fake_services(fakes, parts())
    bucket = MemoryBucket()
    app = create_app(SETTINGS, clients=fakes, verifier=keys.verifier())
    app.state.export_files = memory_export_files(bucket)
    owner = keys.headers("u-1", roles=("client",))
    colleague = keys.headers("u-2", roles=("client",))  # same enterprise in the token's eyes: irrelevant
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        for query, media_type in (({}, "application/json"), ({"format": "zip"}, "application/zip")):
            pending = await http.get(PATH, params=query, headers=owner | {"prefer": "respond-async"})
            assert pending.status_code == 202, pending.text
            body = pending.json()
            assert body["status"] == "pending" and body["url"] == f"/api/v1/me/exports/{body['id']}"
            assert pending.headers["location"] == body["url"]
            assert timedelta(hours=23) < when(body["expires_at"]) - datetime.now(UTC) <= LINK_TTL
            ready = await fetched_when_ready(http, body["url"], owner)
            assert ready.status_code == 200, ready.text
            assert ready.headers["content-type"].startswith(media_type)
            if media_type == "application/zip":
                archive = zipfile.ZipFile(io.BytesIO(ready.content))
                assert json.loads(archive.read(JSON_NAME)) == join(parts(), with_files=True)
            else:
                assert ready.json() == join(parts(), with_files=False)
            # Sealed in the bucket: the stored bytes hold none of the person's words.
            stored, headers = bucket.objects[body["id"]]
            assert "我的劳动合同".encode() not in stored and headers["Counsel-Owner"] == "u-1"
            assert_problem(await http.get(body["url"], headers=colleague), 404)

        # Expired: gone for its owner too, the same 404 as a link that never existed.
        stored, headers = bucket.objects[body["id"]]
        bucket.objects[body["id"]] = (stored, headers | {"Counsel-Expires": "2026-01-01T00:00:00+00:00"})
        assert_problem(await http.get(body["url"], headers=owner), 404)
        assert_problem(await http.get("/api/v1/me/exports/nothing-here", headers=owner), 404)


async def test_an_export_that_fails_in_the_background_says_so(fakes: FakeClients, keys: Issuer) -> None:
    fake_services(fakes, parts())
    fakes.fake("documents").on("StreamVersion", lambda _: rpc_error(grpc.StatusCode.DATA_LOSS))
    app = create_app(SETTINGS, clients=fakes, verifier=keys.verifier())
    app.state.export_files = memory_export_files()
    owner = keys.headers("u-1", roles=("client",))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        pending = await http.get(PATH, params={"format": "zip"}, headers=owner | {"prefer": "respond-async"})
        assert pending.status_code == 202
        failed = await fetched_when_ready(http, pending.json()["url"], owner)
        assert_problem(failed, 409)
