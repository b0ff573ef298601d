"""DocumentsService over gRPC: proto in → domain/store → proto out. No SQL and no NATS here."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import grpc
from google.protobuf.duration_pb2 import Duration
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import paging_pb2, timeline_pb2
from counsel.documents.v1 import documents_service_pb2 as pb
from counsel.documents.v1.documents_service_pb2_grpc import (
    DocumentsInternalServiceServicer,
    DocumentsServiceServicer,
)
from services.documents import domain
from services.documents.files import DocumentFiles
from services.documents.models import STAFF_READS, DocumentOrderRow, DocumentVersionRow
from services.documents.store import DocumentsStores, NewOrder, OrderView
from services.legal_fields.classifier import default_classifier
from services.rules.forms import RequirementSpec, validate_requirements_against
from services.runtime.context import Principal, current_principal
from services.runtime.errors import Conflict, InvalidArgument, Unimplemented
from services.runtime.firm_roster import with_firm_lawyers
from services.runtime.records import from_timestamp, page_size, to_timestamp, utcnow
from services.runtime.sealed_files import open_file
from services.runtime.tenancy import own_records
from workflows.shared import RevisionAccepted, RevisionRequest, document_order_workflow_id

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub

log = logging.getLogger(__name__)

# Who may create a document order by hand (dev/test demo, until payment creates them).
CREATORS = ("agent", "supervisor")
# Reasons the workflow's revision validator gives, as the API's problem types.
_REFUSALS = {
    "RevisionWindowClosed": "revision_window_closed",
    "NotDelivered": "not_delivered",
    "Completed": "completed",
}


def version_proto(version: DocumentVersionRow) -> pb.DocumentVersion:
    return pb.DocumentVersion(
        number=version.number,
        author_id=version.author_id,
        note=version.note,
        size_bytes=version.size_bytes,
        media_type=version.media_type,
        sha256=version.sha256,
        status=version.status,
        created_at=to_timestamp(version.created_at),
        reviewer_id=version.reviewer_id,
        reviewer_licence_number=version.reviewer_licence_number,
        review_comment=version.review_comment,
        reviewed_at=to_timestamp(version.reviewed_at),
        file_name=version.file_name,
    )


def document_order_proto(
    row: DocumentOrderRow, view: OrderView | None = None, viewer: Principal | None = None
) -> pb.DocumentOrder:
    message = pb.DocumentOrder(
        id=row.id,
        tenant_id=row.tenant_id,
        order_id=row.order_id,
        client_id=row.client_id,
        stage=row.stage,
        complexity=row.complexity,
        acknowledge_due_at=to_timestamp(row.acknowledge_due_at),
        draft_due_at=to_timestamp(row.draft_due_at),
        revision_window_ends_at=to_timestamp(row.revision_window_ends_at),
        created_at=to_timestamp(row.created_at),
        assigned_lawyer_id=row.assigned_lawyer_id,
        product_id=row.product_id,
        revisions_requested=row.revisions_requested,
        completed_reason=row.completed_reason,
        requirements=json.loads(row.requirements_json or "{}"),
        assignment_reason=row.assignment_reason,
        legal_field=domain.matched_field(row.legal_field),
        legal_field_source=row.legal_field_source or domain.DEFAULT_FIELD_SOURCE,
        status_reason=row.status_reason,
    )
    if view is None:
        return message
    last = len(view.stages) - 1
    for i, stage in enumerate(view.stages):
        status = "done" if i < last or row.stage == "completed" else "current"
        message.stages.append(
            timeline_pb2.TimelineStage(
                stage=stage.stage,
                status=status,
                entered_at=to_timestamp(stage.entered_at),
                due_at=to_timestamp(stage.due_at),
                actor=stage.actor,
            )
        )
    for version in view.versions:
        if domain.may_see_version(viewer, version.status):
            message.versions.append(version_proto(version))
    for breach in view.breaches:
        message.breaches.append(
            pb.SlaBreach(
                kind=breach.kind,
                due_at=to_timestamp(breach.due_at),
                recorded_at=to_timestamp(breach.recorded_at),
                new_due_at=to_timestamp(breach.new_due_at),
            )
        )
    return message


def _duration(value: Duration, field: str, default: timedelta | None) -> timedelta | None:
    if not value.seconds and not value.nanos:
        return default
    delta = value.ToTimedelta()
    if delta <= timedelta(0) or delta > timedelta(days=60):
        raise InvalidArgument.for_field(field, "must be a positive duration of at most 60 days")
    return delta


def _classify(text: str) -> str:
    """The legal field of a document order's requirements, by the consultation's classifier."""
    return default_classifier().classify(text).field


class DocumentsServicer(DocumentsServiceServicer, DocumentsInternalServiceServicer):
    def __init__(
        self,
        stores: DocumentsStores,
        files: DocumentFiles,
        temporal: Client,
        catalog: CatalogServiceAsyncStub,
    ) -> None:
        self.stores = stores
        self.files = files
        self.temporal = temporal
        self.catalog = catalog

    def _reply(self, view: OrderView) -> pb.DocumentOrder:
        return document_order_proto(view.row, view, current_principal())

    async def ListStaffAccess(
        self, request: pb.ListStaffAccessRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStaffAccessResponse:
        entries = await STAFF_READS.of_caller(
            self.stores.orders.db, current_principal(), page_size(request.limit)
        )
        return pb.ListStaffAccessResponse(entries=entries)

    async def GetDocumentOrder(
        self, request: pb.GetDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDocumentOrderResponse:
        principal = await with_firm_lawyers(current_principal(), self.catalog)
        view = await self.stores.orders.get(principal, request.document_order_id)
        return pb.GetDocumentOrderResponse(document_order=self._reply(view))

    async def ListDocumentOrders(
        self, request: pb.ListDocumentOrdersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDocumentOrdersResponse:
        principal = await with_firm_lawyers(domain.signed_in(current_principal()), self.catalog)
        if request.stage and request.stage not in domain.STAGES:
            raise InvalidArgument.for_field("stage", f"must be one of {', '.join(domain.STAGES)}")
        rows, next_cursor = await self.stores.orders.list_orders(
            principal, request.stage, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListDocumentOrdersResponse(
            document_orders=[document_order_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def CreateDocumentOrder(
        self, request: pb.CreateDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateDocumentOrderResponse:
        domain.require_internal_or(current_principal(), *CREATORS)
        for field in ("order_id", "tenant_id", "client_id"):
            value = getattr(request, field)
            if not value.strip() or len(value) > 200:
                raise InvalidArgument.for_field(field, "is required (at most 200 characters)")
        complexity = domain.validate_complexity(request.complexity)
        requirements = dict(request.requirements)
        tier_acknowledge = tier_draft = tier_window = None
        parameters: dict[str, str] = {}
        if request.product_id:
            # Policy in data: the tier's clocks and the product's requirement form come from the catalog.
            product = await self._document_product(request.product_id)
            parameters = dict(product.parameters)
            tier = next((t for t in product.tiers if t.complexity == complexity), None)
            if tier is None:
                raise InvalidArgument.for_field("complexity", "this product has no tier of that complexity")
            if tier.HasField("acknowledge_minutes"):
                tier_acknowledge = timedelta(minutes=tier.acknowledge_minutes)
            if tier.HasField("delivery_hours"):
                tier_draft = timedelta(hours=tier.delivery_hours)
            if tier.HasField("revision_days"):
                tier_window = timedelta(days=tier.revision_days)
            requirements = validate_requirements_against(
                [
                    RequirementSpec(f.name, f.type, f.required, tuple(f.choices))
                    for f in product.requirement_fields
                ],
                requirements,
            )
        acknowledge_within = _duration(
            request.acknowledge_within, "acknowledge_within", tier_acknowledge or domain.ACKNOWLEDGE_WITHIN
        )
        draft_within, revision_window = domain.tier_clocks(
            complexity,
            _duration(request.draft_within, "draft_within", tier_draft),
            _duration(request.revision_window, "revision_window", tier_window),
        )
        assert acknowledge_within is not None
        requirements = domain.validate_requirements(requirements)
        # The lawyer is matched by legal field (R-DOC-3); the first classification loads the model: off the loop.
        legal_field, field_source = await asyncio.to_thread(
            domain.legal_field_for, parameters, requirements, _classify
        )
        new = NewOrder(
            order_id=request.order_id.strip(),
            tenant_id=request.tenant_id,
            client_id=request.client_id,
            product_id=request.product_id,
            complexity=complexity,
            paid_at=from_timestamp(request.paid_at) if request.HasField("paid_at") else utcnow(),
            acknowledge_within=acknowledge_within,
            draft_within=draft_within,
            revision_window=revision_window,
            requirements=requirements,
            legal_field=legal_field,
            legal_field_source=field_source,
        )
        created = await self.stores.orders.create(new)
        return pb.CreateDocumentOrderResponse(document_order=self._reply(created.view))

    async def _document_product(self, product_id: str) -> catalog_pb.Product:
        try:
            reply = await self.catalog.GetProduct(catalog_pb.GetProductRequest(product_id=product_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise InvalidArgument.for_field("product_id", "no such product") from exc
            raise
        if reply.product.category != "document":
            raise InvalidArgument.for_field("product_id", "is not a document product")
        return reply.product

    async def AcknowledgeDocumentOrder(
        self, request: pb.AcknowledgeDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcknowledgeDocumentOrderResponse:
        principal = domain.require_role(current_principal(), "agent")
        if len(request.note) > domain.MAX_NOTE:
            raise InvalidArgument.for_field("note", f"must be at most {domain.MAX_NOTE} characters")
        view = await self.stores.orders.acknowledge(principal, request.document_order_id, request.note)
        return pb.AcknowledgeDocumentOrderResponse(document_order=self._reply(view))

    async def AssignDocumentOrder(
        self, request: pb.AssignDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.AssignDocumentOrderResponse:
        principal = domain.require_role(current_principal(), "agent", "supervisor")
        view = await self.stores.orders.assign(
            principal, request.document_order_id, request.lawyer_id, request.override_reason
        )
        return pb.AssignDocumentOrderResponse(document_order=self._reply(view))

    async def UploadDraft(
        self, request: pb.UploadDraftRequest, context: grpc.aio.ServicerContext
    ) -> pb.UploadDraftResponse:
        principal = domain.require_role(current_principal(), "lawyer")
        upload = domain.validate_upload(request.file_name, request.media_type, request.content, request.note)
        stored: list[str] = []

        async def put(name: str, content: bytes) -> None:
            await self.files.put(name, content)
            stored.append(name)

        try:
            view = await self.stores.versions.add_version(principal, request.document_order_id, upload, put)
        except BaseException:
            # The version was not committed: its bytes must not linger in the bucket.
            for name in stored:
                await self.files.delete(name)
            raise
        return pb.UploadDraftResponse(document_order=self._reply(view))

    async def ReviewDraft(
        self, request: pb.ReviewDraftRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReviewDraftResponse:
        principal = domain.require_role(current_principal(), "reviewer")
        view = await self.stores.versions.review(
            principal, request.document_order_id, request.decision, request.comment
        )
        return pb.ReviewDraftResponse(document_order=self._reply(view))

    async def RequestRevision(
        self, request: pb.RequestRevisionRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestRevisionResponse:
        principal = domain.require_role(current_principal(), "client", "client_admin")

        async def ask_workflow(window_ends_at: datetime | None) -> None:
            await self._request_revision(request.document_order_id, principal.user_id, window_ends_at)

        view = await self.stores.revisions.request_revision(
            principal, request.document_order_id, request.instructions, ask_workflow
        )
        return pb.RequestRevisionResponse(document_order=self._reply(view))

    async def _request_revision(
        self, document_order_id: str, client_id: str, window_ends_at: datetime | None
    ) -> None:
        """The workflow's Update validator has the last word on the window (R-DOC-5); a refusal is a 409.
        The instructions stay here, sealed: the workflow never reads them, and its history is no place for
        the client's words."""
        handle = self.temporal.get_workflow_handle(document_order_workflow_id(document_order_id))
        try:
            await handle.execute_update(
                "request_revision",
                RevisionRequest(requested_by=client_id, window_ends_at=window_ends_at),
                result_type=RevisionAccepted,
            )
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError):
                raise Conflict(cause.message, reason=_REFUSALS.get(cause.type or "", "conflict")) from exc
            raise
        except RPCError as exc:  # the workflow already finished
            log.info(
                "revision update not delivered", extra={"workflow_id": handle.id, "error": exc.status.name}
            )
            raise Conflict("the order is completed", reason="completed") from exc

    async def AcceptDocumentOrder(
        self, request: pb.AcceptDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptDocumentOrderResponse:
        principal = domain.require_role(current_principal(), "client", "client_admin")
        view = await self.stores.revisions.accept(principal, request.document_order_id)
        return pb.AcceptDocumentOrderResponse(document_order=self._reply(view))

    async def DownloadVersion(
        self, request: pb.DownloadVersionRequest, context: grpc.aio.ServicerContext
    ) -> pb.DownloadVersionResponse:
        # Deprecated in the contract: one reply held the whole file in memory. The refusal names the way on.
        raise Unimplemented("DownloadVersion is no longer served; use StreamVersion")

    async def StreamVersion(
        self, request: pb.StreamVersionRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.StreamVersionResponse]:
        principal = domain.signed_in(current_principal())
        version = await self.stores.versions.version(
            principal, request.document_order_id, request.version_number
        )
        yield pb.StreamVersionResponse(version=version_proto(version))
        digest = hashlib.sha256()  # over the plaintext, as recorded at upload (Repr-Digest)
        chunks = self.files.chunks(version.object_name)
        if version.file_sealed:
            cipher = await self.stores.versions.file_cipher(request.document_order_id)
            chunks = open_file(cipher, version.object_name, chunks)
        async for chunk in chunks:
            digest.update(chunk)
            yield pb.StreamVersionResponse(chunk=chunk)
        if digest.hexdigest() != version.sha256:
            # The bytes are already on their way: failing the call breaks the download off, so a client
            # never takes a file whose digest does not match the `Repr-Digest` it was promised.
            log.error("stored file does not match its digest", extra={"version_id": version.id})
            raise RuntimeError("document file corrupted")

    async def ExportDocumentsData(
        self, request: pb.ExportDocumentsDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportDocumentsDataResponse:
        """The caller's own document orders (a client's; staff order nothing), with the versions they may see."""
        principal = domain.signed_in(current_principal())
        reply = pb.ExportDocumentsDataResponse()
        for row in await own_records(principal, self.stores.orders.list_orders):
            view = await self.stores.orders.get(principal, row.id)
            reply.document_orders.append(document_order_proto(view.row, view, principal))
        return reply

    async def RecordStage(
        self, request: pb.RecordStageRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordStageResponse:
        domain.require_internal_or(current_principal(), "supervisor")
        view = await self.stores.deadlines.record_stage(
            request.document_order_id,
            request.stage,
            request.actor or "system",
            from_timestamp(request.due_at) if request.HasField("due_at") else None,
            request.reason,
            request.idempotency_key or f"{request.stage}:{request.document_order_id}",
        )
        return pb.RecordStageResponse(document_order=self._reply(view))

    async def RecordBreach(
        self, request: pb.RecordBreachRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordBreachResponse:
        domain.require_internal_or(current_principal(), "supervisor")
        if not request.HasField("due_at"):
            raise InvalidArgument.for_field("due_at", "is required")
        view = await self.stores.deadlines.record_breach(
            request.document_order_id,
            request.kind,
            from_timestamp(request.due_at),
            from_timestamp(request.new_due_at) if request.HasField("new_due_at") else None,
            request.idempotency_key or f"{request.kind}:{request.document_order_id}",
        )
        return pb.RecordBreachResponse(document_order=self._reply(view))

    async def CancelDocumentOrder(
        self, request: pb.CancelDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelDocumentOrderResponse:
        principal = current_principal()
        domain.require_internal_or(principal, *domain.STAFF_WHO_CANCEL)
        view = await self.stores.orders.cancel(principal, request.document_order_id, request.reason)
        return pb.CancelDocumentOrderResponse(document_order=self._reply(view))
