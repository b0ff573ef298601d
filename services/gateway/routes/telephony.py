"""What telephony providers call: their pushed receipts about bridged phone calls (talk time, recordings),
passed on to the consultation service as received; it checks the push's credential (R-CON-3, §6.2.4.4)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import Response

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.deps import ClientsDep
from services.gateway.problems import problem
from services.gateway.routing import api_router

router = api_router("telephony")

MAX_RECEIPT_BYTES = 256 * 1024
RECEIPT_PATH = re.compile(r"/api/v1/telephony/receipts/[^/]+/[^/]+")
# Refused pushes: nothing changed; the provider pushes again later.
REFUSALS = {
    "unknown_provider": (404, "No such telephony provider."),
    "bad_credential": (403, "The receipt's credential does not verify."),
}


@router.post("/api/v1/telephony/receipts/{provider}/{message_type}", response_model=None)
async def telephony_receipt(
    request: Request,
    clients: ClientsDep,
    provider: Annotated[str, Path(max_length=20)],
    message_type: Annotated[str, Path(max_length=40)],
    token: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """A provider's receipt push. Answers what the provider expects on success; a push that is not
    provably the provider's is 403 and changes nothing; a repeated push is harmless."""
    reply = await clients.consultation_internal.HandleTelephonyReceipt(
        pb.HandleTelephonyReceiptRequest(
            provider=provider, message_type=message_type, credential=token, body=await request.body()
        )
    )
    if not reply.accepted:
        status, detail = REFUSALS.get(reply.outcome, (400, "The receipt was refused."))
        return problem(status, detail, reason=reply.outcome or "refused")
    return Response(reply.ack_body, media_type="application/json")
