"""The person's data export (PIPL art. 45; issue 20 item 5): every service's part, read with the person's own
token through its one export RPC (identity's `ExportMyData`, the others' `Export<Service>Data`), joined here
into one JSON document; as a ZIP, that document with the files of the document versions beside it.

Each service answers only the caller's own records (never an enterprise colleague's), so the join adds links
and file paths but filters nothing."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import IO, Any

from pydantic import BaseModel

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from counsel.documents.v1 import documents_service_pb2 as documents_pb
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.notification.v1 import notification_service_pb2 as notification_pb
from counsel.payment.v1 import payment_service_pb2 as payment_pb
from services.gateway.clients import Clients
from services.gateway.schemas.booking import Booking, ConnectRequest, Visit
from services.gateway.schemas.catalog import Review
from services.gateway.schemas.chat import ChatMessage, Conversation
from services.gateway.schemas.common import money, rfc3339
from services.gateway.schemas.complaints import Complaint
from services.gateway.schemas.consultations import Consultation
from services.gateway.schemas.documents import DocumentOrder
from services.gateway.schemas.notifications import Delivery, Notification, Preferences
from services.gateway.schemas.orders import Order, Voucher

# The document's shape: a reader checks it before relying on the fields below.
EXPORT_FORMAT = "counsel-export/2"
JSON_NAME = "export.json"
# A ZIP is built in a temporary file that stays in memory up to this size and spills to disk beyond it.
ZIP_IN_MEMORY_BYTES = 8 * 1024 * 1024
# How long reading one version's file for the ZIP may take.
FILE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class ServiceParts:
    """What each of the seven services answered for the caller."""

    identity: dict[str, Any]
    consultation: consultation_pb.ExportConsultationDataResponse
    documents: documents_pb.ExportDocumentsDataResponse
    booking: booking_pb.ExportBookingDataResponse
    payment: payment_pb.ExportPaymentDataResponse
    notification: notification_pb.ExportNotificationDataResponse
    catalog: catalog_pb.ExportCatalogDataResponse


async def read_parts(clients: Clients) -> ServiceParts:
    """Every service's part, asked at once with the caller's token (the services scope each to them)."""
    identity, (consultation, documents, booking, payment, notification, catalog) = await asyncio.gather(
        clients.identity.ExportMyData(identity_pb.ExportMyDataRequest()),
        asyncio.gather(  # nested: typeshed types a gather of at most six
            clients.consultation.ExportConsultationData(consultation_pb.ExportConsultationDataRequest()),
            clients.documents.ExportDocumentsData(documents_pb.ExportDocumentsDataRequest()),
            clients.booking.ExportBookingData(booking_pb.ExportBookingDataRequest()),
            clients.payment.ExportPaymentData(payment_pb.ExportPaymentDataRequest()),
            clients.notification.ExportNotificationData(notification_pb.ExportNotificationDataRequest()),
            clients.catalog.ExportCatalogData(catalog_pb.ExportCatalogDataRequest()),
        ),
    )
    return ServiceParts(
        json.loads(identity.export_json),
        consultation,
        documents,
        booking,
        payment,
        notification,
        catalog,
    )


def version_file_path(document_order_id: str, version: documents_pb.DocumentVersion) -> str:
    """Where a version's file lies in the ZIP: one folder per document order, the number first so two
    versions with one file name never collide; the name keeps letters (CJK too), digits, `.`, `-`, `_`."""
    name = re.sub(r"[^\w.\-]+", "_", version.file_name).strip("._") or "file"
    return f"files/document-orders/{document_order_id}/v{version.number}-{name}"


def join(parts: ServiceParts, *, with_files: bool) -> dict[str, Any]:
    """The one export document: identity's part (`exported_at`, `user`, `enterprise`, `login_methods`,
    `membership_cards`, `sessions`, `audit`, `activity`, and whatever identity adds, such as consents) at the
    top, then one object per other service. Every document version carries its `download_url`; with `with_files` (the
    ZIP) also `file`, its path inside the ZIP."""
    document_orders = []
    for order in parts.documents.document_orders:
        shown = DocumentOrder.from_proto(order).model_dump(mode="json")
        for exported, version in zip(shown["versions"], order.versions, strict=True):
            exported["download_url"] = f"/api/v1/document-orders/{order.id}/versions/{version.number}/file"
            if with_files:
                exported["file"] = version_file_path(order.id, version)
        document_orders.append(shown)
    consultation, booking, payment = parts.consultation, parts.booking, parts.payment
    notification = parts.notification
    answers = {r.order_id: dict(r.answers) for r in payment.requirements}
    return {
        # Identity's part stays at the top, where the export held it before the other services joined.
        **parts.identity,
        "format": EXPORT_FORMAT,
        "consultation": {
            "consultations": [_dump(Consultation.from_proto(c)) for c in consultation.consultations],
            "chats": [
                {
                    "conversation": _dump(Conversation.from_proto(chat.conversation)),
                    "messages": [_dump(ChatMessage.from_proto(m)) for m in chat.messages],
                }
                for chat in consultation.conversations
            ],
            "complaints": [_dump(Complaint.from_proto(c)) for c in consultation.complaints],
        },
        "documents": {"document_orders": document_orders},
        "payment": {
            "orders": [
                {**(_dump(Order.from_proto(o)) or {}), "requirements": answers.get(o.id, {})}
                for o in payment.orders
            ],
            "vouchers": [_dump(Voucher.from_proto(v)) for v in payment.vouchers],
            "invoices": [_invoice(i) for i in payment.invoices],
        },
        "booking": {
            "bookings": [_dump(Booking.from_proto(b)) for b in booking.bookings],
            "visits": [_dump(Visit.from_proto(v)) for v in booking.visits],
            "connect_requests": [_dump(ConnectRequest.from_proto(r)) for r in booking.connect_requests],
        },
        "notification": {
            "notifications": [_dump(Notification.from_proto(n)) for n in notification.notifications],
            "deliveries": [_dump(Delivery.from_proto(d)) for d in notification.deliveries],
            "preferences": _dump(Preferences.from_proto(notification.preferences)),
        },
        "catalog": {"reviews": [_dump(Review.from_proto(r)) for r in parts.catalog.reviews]},
    }


def _dump(model: BaseModel | None) -> dict[str, Any] | None:
    return model.model_dump(mode="json") if model is not None else None


def _invoice(invoice: payment_pb.Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number,
        "order_id": invoice.order_id,
        "amount": _dump(money(invoice, "amount")),
        "tax": _dump(money(invoice, "tax")),
        "issued_at": rfc3339(invoice, "issued_at"),
        "sha256": invoice.sha256,
        "download_url": f"/api/v1/orders/{invoice.order_id}/invoice",
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode()


async def write_zip(clients: Clients, parts: ServiceParts) -> IO[bytes]:
    """The ZIP (the JSON document, then every version's file as the documents service streams it, checked
    there against its SHA-256), rewound; in memory up to `ZIP_IN_MEMORY_BYTES`, on disk beyond."""
    sink = tempfile.SpooledTemporaryFile(max_size=ZIP_IN_MEMORY_BYTES)  # noqa: SIM115 (the caller closes it)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(JSON_NAME, encode(join(parts, with_files=True)))
        for order in parts.documents.document_orders:
            for version in order.versions:
                with archive.open(version_file_path(order.id, version), "w") as file:
                    async for chunk in _version_chunks(clients, order.id, version.number):
                        file.write(chunk)
    sink.seek(0)
    return sink


async def _version_chunks(clients: Clients, document_order_id: str, number: int) -> AsyncIterator[bytes]:
    call = clients.documents.StreamVersion(
        documents_pb.StreamVersionRequest(document_order_id=document_order_id, version_number=number),
        timeout=FILE_TIMEOUT_SECONDS,
    )
    try:  # the first message carries the version's metadata, then come the chunks; the stream ends with EOF
        while isinstance(message := await call.read(), documents_pb.StreamVersionResponse):
            if message.chunk:
                yield message.chunk
    finally:
        call.cancel()
