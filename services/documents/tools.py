"""Operator command of the documents service: `counsel documents cancel <id> --reason …`.

API.md has no public path to cancel a document order, so a supervisor's cancellation goes through the
gRPC RPC `DocumentsService.CancelDocumentOrder` (staff tools, or this command run inside the platform's
network as an internal caller). The order stops (its workflow is cancelled) and the payment service
refunds the paid order it fulfils, on `docorder.cancelled`."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import grpc

from counsel.documents.v1 import documents_service_pb2 as pb
from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceStub
from services.runtime.config import Settings
from services.runtime.grpc_client import open_channel

if TYPE_CHECKING:
    from counsel.documents.v1.documents_service_pb2_grpc import DocumentsServiceAsyncStub


async def cancel(settings: Settings, document_order_id: str, reason: str) -> int:
    """Prints the order's new stage; exit code 0 when cancelled (or already), 1 when refused."""
    async with open_channel(
        settings.documents_addr, settings.tls(), default_timeout=settings.grpc_deadline_seconds
    ) as channel:
        stub = cast("DocumentsServiceAsyncStub", DocumentsServiceStub(channel))
        try:
            reply = await stub.CancelDocumentOrder(
                pb.CancelDocumentOrderRequest(document_order_id=document_order_id, reason=reason)
            )
        except grpc.aio.AioRpcError as exc:
            print(f"not cancelled: {exc.code().name}: {exc.details()}")
            return 1
    print(f"document order {reply.document_order.id}: {reply.document_order.stage}")
    return 0
