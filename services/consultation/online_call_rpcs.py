"""ConsultationService's online-call RPCs (§6.2.4.1, §6.2.4.4): a client calls an online lawyer in the
browser, the lawyer accepts, either party ends it. Part of ConsultationServicer (server.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from counsel.catalog.v1 import catalog_service_pb2
from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.consultation import domain
from services.consultation.models import OnlineCallRow
from services.consultation.store import ConsultationStores
from services.consultation.store.online_calls import CalledLawyer
from services.runtime.context import current_principal
from services.runtime.errors import Unavailable
from services.runtime.records import to_timestamp

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub


def online_call_proto(row: OnlineCallRow) -> pb.OnlineCall:
    return pb.OnlineCall(
        id=row.id,
        client_id=row.client_id,
        lawyer_id=row.lawyer_id,
        media=row.media,
        status=row.status,
        consultation_id=row.consultation_id,
        order_id=row.order_id,
        created_at=to_timestamp(row.created_at),
        started_at=to_timestamp(row.started_at),
        ended_at=to_timestamp(row.ended_at),
        duration_seconds=row.duration_seconds,
        outcome=row.outcome,
        ended_by=row.ended_by,
    )


class OnlineCallRpcs:
    stores: ConsultationStores
    catalog: CatalogServiceAsyncStub | None

    async def StartOnlineCall(
        self, request: pb.StartOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartOnlineCallResponse:
        principal = current_principal()
        domain.validate_start_online_call(principal, request.media)
        lawyer = await self._lawyer(request.lawyer_id)
        domain.require_lawyer_online(lawyer.active if lawyer else None, lawyer.online if lawyer else False)
        assert lawyer is not None
        call = await self.stores.online_calls.start(
            principal, CalledLawyer(lawyer.id, lawyer.user_id), request.media, request.consultation_id
        )
        return pb.StartOnlineCallResponse(call=online_call_proto(call))

    async def GetOnlineCall(
        self, request: pb.GetOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOnlineCallResponse:
        view = await self.stores.online_calls.get(current_principal(), request.call_id)
        return pb.GetOnlineCallResponse(call=online_call_proto(view.call), party=view.party)

    async def AcceptOnlineCall(
        self, request: pb.AcceptOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptOnlineCallResponse:
        call = await self.stores.online_calls.accept(current_principal(), request.call_id)
        return pb.AcceptOnlineCallResponse(call=online_call_proto(call))

    async def EndOnlineCall(
        self, request: pb.EndOnlineCallRequest, context: grpc.aio.ServicerContext
    ) -> pb.EndOnlineCallResponse:
        call = await self.stores.online_calls.end(current_principal(), request.call_id, request.outcome)
        return pb.EndOnlineCallResponse(call=online_call_proto(call))

    async def ListOnlineCalls(
        self, request: pb.ListOnlineCallsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListOnlineCallsResponse:
        calls = await self.stores.online_calls.for_lawyer(current_principal(), request.status)
        return pb.ListOnlineCallsResponse(items=[online_call_proto(call) for call in calls])

    async def _lawyer(self, lawyer_id: str) -> catalog_service_pb2.Lawyer | None:
        """The catalog's lawyer, or None when there is none."""
        if self.catalog is None:
            raise Unavailable("the lawyer directory is not connected")
        if not lawyer_id:
            return None
        try:
            reply = await self.catalog.GetLawyer(catalog_service_pb2.GetLawyerRequest(lawyer_id=lawyer_id))
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return reply.lawyer
