"""DocumentsService over gRPC. Document orders are created from paid orders; this serves reads."""

from __future__ import annotations

import grpc

from counsel.documents.v1 import documents_service_pb2 as pb
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceServicer
from services.documents.models import DocumentOrderRow
from services.runtime.context import current_principal
from services.runtime.db import Database
from services.runtime.records import to_timestamp
from services.runtime.tenancy import require_visible

STAFF_WHO_SEE_DOCUMENTS = ("agent", "supervisor", "reviewer", "lawyer")


def document_order_proto(row: DocumentOrderRow) -> pb.DocumentOrder:
    return pb.DocumentOrder(
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
    )


class DocumentsServicer(DocumentsServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetDocumentOrder(
        self, request: pb.GetDocumentOrderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDocumentOrderResponse:
        row = await self.db.get(DocumentOrderRow, request.document_order_id, "document order")
        require_visible(current_principal(), row.tenant_id, STAFF_WHO_SEE_DOCUMENTS, "document order")
        return pb.GetDocumentOrderResponse(document_order=document_order_proto(row))
