"""Entry point of the documents service."""

from __future__ import annotations

from counsel.documents.v1 import documents_service_pb2
from counsel.documents.v1.documents_service_pb2_grpc import add_DocumentsServiceServicer_to_server
from services.documents.models import TABLES
from services.documents.server import DocumentsServicer
from services.runtime.config import Settings
from services.runtime.service import service_runtime

SERVICE = "documents"
FULL_NAME = documents_service_pb2.DESCRIPTOR.services_by_name["DocumentsService"].full_name


async def serve(settings: Settings) -> None:
    async with service_runtime(settings, SERVICE, TABLES) as rt:
        server = rt.grpc_server()
        server.add(add_DocumentsServiceServicer_to_server, DocumentsServicer(rt.db), FULL_NAME)
        await rt.run(server, background=[rt.outbox_relay()])
