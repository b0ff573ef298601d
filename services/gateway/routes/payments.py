"""What providers and the public call: payment notifications, voucher verification, the ledger check,
and (dev/test only) the sandbox provider's pay page."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse, Response

from counsel.payment.v1 import payment_service_pb2 as pb
from services.gateway.deps import ClientsDep, require_roles
from services.gateway.problems import problem
from services.gateway.routing import api_router
from services.gateway.schemas.orders import LedgerReport, Payment, VoucherVerification
from services.runtime.context import Principal

router = api_router("payments")
dev_router = api_router("dev")

MAX_NOTIFICATION_BYTES = 64 * 1024
NOTIFICATION_PATH = re.compile(r"/api/v1/payments/notify/[^/]+")
# Refused notifications: nothing changed; the provider may retry (R-PAY-2).
REFUSALS = {
    "bad_signature": (400, "The notification's signature does not verify."),
    "unknown_provider": (404, "No such payment provider."),
    "unknown_payment": (404, "No such payment."),
    "amount_mismatch": (409, "The notified amount differs from the payment's; it was not applied."),
}


@router.post("/api/v1/payments/notify/{provider}", response_model=None)
async def payment_notification(
    request: Request, clients: ClientsDep, provider: Annotated[str, Path(max_length=20)]
) -> Response:
    """A provider's signed asynchronous notification, passed on as received. Answers what the provider
    expects on success; a bad signature is 400 and changes nothing; a replay is harmless."""
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        return problem(413, "The notification is too large.", reason="too_large")
    reply = await clients.payment_internal.HandleNotification(
        pb.HandleNotificationRequest(
            provider=provider, headers={k.lower(): v for k, v in request.headers.items()}, body=body
        )
    )
    if not reply.accepted:
        status, detail = REFUSALS.get(reply.outcome, (400, "The notification was refused."))
        return problem(status, detail, reason=reply.outcome or "refused")
    return Response(reply.ack_body, media_type=reply.ack_content_type or "text/plain")


@router.get("/api/v1/vouchers/{code}/verify", response_model=VoucherVerification)
async def verify_voucher(
    code: Annotated[str, Path(max_length=200)], clients: ClientsDep
) -> VoucherVerification:
    """200 for a genuine voucher code; 404 for an unknown or altered one."""
    reply = await clients.payment.VerifyVoucher(pb.VerifyVoucherRequest(code=code))
    return VoucherVerification.from_proto(reply.voucher)


@router.get("/api/v1/ledger/verify", response_model=LedgerReport)
async def verify_ledger(
    principal: Annotated[Principal, Depends(require_roles("supervisor"))], clients: ClientsDep
) -> LedgerReport:
    """Walks the hash-chained payment ledger (R-PAY-4) and names the first broken link, if any."""
    reply = await clients.payment.VerifyLedger(pb.VerifyLedgerRequest())
    return LedgerReport(
        valid=reply.valid,
        checked=reply.checked,
        first_broken_seq=reply.first_broken_seq or None,
        problem=reply.problem or None,
    )


@dev_router.post("/api/v1/dev/sandbox-pay/{payment_id}", response_model=Payment, status_code=202)
async def sandbox_pay(payment_id: Annotated[str, Path(max_length=200)], clients: ClientsDep) -> JSONResponse:
    """The sandbox provider's customer pays; its signed notification follows asynchronously."""
    reply = await clients.payment_internal.SandboxPay(pb.SandboxPayRequest(payment_id=payment_id))
    return JSONResponse(Payment.from_proto(reply.payment).model_dump(), status_code=202)
