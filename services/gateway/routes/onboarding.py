"""The platform's own licences, firm onboarding by the platform operator and lawyers' credentials (API.md
"Firms, lawyers and online calls", issue 24 items 1 and 2). The catalog and identity check roles and firm
scoping again."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import Depends, File, Form, Header, Query, Request, UploadFile, status

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import money_pb2
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from services.gateway.caching import invalidate_public_reads
from services.gateway.deps import ClientsDep, SettingsDep, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.catalog import Firm, Lawyer
from services.gateway.schemas.onboarding import (
    FirmAdminInvitation,
    FirmAdminInvited,
    NewFirm,
    PendingCredentials,
    Platform,
    Verification,
    VerificationHistory,
    VerificationRecord,
)
from services.runtime.errors import InvalidArgument

router = api_router("onboarding")

# As for document drafts: the service refuses larger files; one byte more tells an oversized one apart.
MAX_FILE_BYTES = 20 * 1024 * 1024
AGREEMENT_PATH = re.compile(r"/api/v1/firms/[^/]+/agreement")
MAX_AGREEMENT_REQUEST_BYTES = MAX_FILE_BYTES + 64 * 1024
CREDENTIALS_PATH = re.compile(r"/api/v1/lawyers/[^/]+/credentials")
MAX_CREDENTIALS_REQUEST_BYTES = 2 * MAX_FILE_BYTES + 64 * 1024

Operator = Depends(require_roles("operator"))
FirmAdmin = Depends(require_roles("firm_admin"))
Verifier = Depends(require_roles("operator", "firm_admin"))
VerificationReader = Depends(require_roles("operator", "firm_admin", "supervisor"))


async def _read(file: UploadFile, field: str) -> bytes:
    content = await file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise InvalidArgument.for_field(field, f"must be at most {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    return content


# What the local stack and the tests show when no licence is configured: visibly not a real one.
DEMO_ICP_LICENCE = "京ICP备00000000号（演示 demo）"
DEMO_BUSINESS_LICENCE = "91350100M000100Y43（演示 demo）"


@router.get("/api/v1/platform", response_model=Platform)
async def platform(settings: SettingsDep) -> Platform:
    """The platform's own licences, shown on public pages (COUNSEL_PLATFORM_ICP_LICENCE,
    COUNSEL_PLATFORM_BUSINESS_LICENCE; demo values in dev and test when unset)."""
    demo = settings.dev_routes
    return Platform(
        name=settings.platform_name,
        icp_licence=settings.platform_icp_licence or (DEMO_ICP_LICENCE if demo else ""),
        business_licence=settings.platform_business_licence or (DEMO_BUSINESS_LICENCE if demo else ""),
    )


@router.post(
    "/api/v1/firms", response_model=Firm, status_code=status.HTTP_201_CREATED, dependencies=[Operator]
)
async def register_firm(
    body: NewFirm,
    clients: ClientsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Firm:
    """The operator onboards a firm: `pending` until its agreement is recorded; an invalid unified social
    credit code is 422 naming `credit_code`, one already registered 409."""
    reply = await clients.catalog.RegisterFirm(
        pb.RegisterFirmRequest(
            name=body.name,
            credit_code=body.credit_code,
            registered_capital=money_pb2.Money(
                amount=body.registered_capital.amount, currency=body.registered_capital.currency
            ),
            address=body.address,
            city=body.city,
            location=pb.Location(lat=body.location.lat, lng=body.location.lng) if body.location else None,
            idempotency_key=idempotency_key or "",
        )
    )
    return Firm.from_proto(reply.firm)


@router.post("/api/v1/firms/{firm_id}/agreement", response_model=Firm, dependencies=[Operator])
async def record_agreement(
    request: Request,
    firm_id: str,
    clients: ClientsDep,
    file: Annotated[UploadFile, File(description="The signed cooperation agreement; at most 20 MiB")],
    starts_on: Annotated[str, Form(max_length=10, description="YYYY-MM-DD")],
    ends_on: Annotated[str, Form(max_length=10, description="YYYY-MM-DD, after starts_on")],
) -> Firm:
    """Stored with its SHA-256 (`agreement_sha256`); the firm becomes `active` and takes new work until
    `agreement_ends_on`; the operator is warned 30 days before."""
    reply = await clients.catalog.RecordFirmAgreement(
        pb.RecordFirmAgreementRequest(
            firm_id=firm_id,
            content=await _read(file, "file"),
            filename=file.filename or "",
            content_type=file.content_type or "",
            starts_on=starts_on,
            ends_on=ends_on,
        )
    )
    invalidate_public_reads(request)
    return Firm.from_proto(reply.firm)


@router.post(
    "/api/v1/firms/{firm_id}/admins",
    response_model=FirmAdminInvited,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Operator],
)
async def invite_firm_admin(firm_id: str, body: FirmAdminInvitation, clients: ClientsDep) -> FirmAdminInvited:
    """Invites the firm's admin by phone or e-mail (an invited firm_admin account, active at their first
    sign-in with a code) and appoints them. 409 when the phone or e-mail has another account."""
    firm = (await clients.catalog.GetFirm(pb.GetFirmRequest(firm_id=firm_id))).firm
    invited = await clients.identity.InviteFirmAdmin(
        identity_pb.InviteFirmAdminRequest(
            firm_id=firm.id, firm_name=firm.name, phone=body.phone or "", email=body.email or ""
        )
    )
    await clients.catalog.AddFirmAdmin(pb.AddFirmAdminRequest(firm_id=firm.id, user_id=invited.user_id))
    return FirmAdminInvited(firm_id=firm.id, user_id=invited.user_id)


@router.get("/api/v1/lawyers/credentials", response_model=PendingCredentials, dependencies=[Verifier])
async def pending_credentials(
    clients: ClientsDep,
    status_: Annotated[
        Literal["pending"], Query(alias="status", description="pending: the verification queue.")
    ] = "pending",
) -> PendingCredentials:
    """The verification queue: lawyers whose submitted credentials await a decision, oldest submission
    first; the operator sees every firm's, a firm admin their own firm's."""
    reply = await clients.catalog.ListPendingCredentials(pb.ListPendingCredentialsRequest())
    return PendingCredentials(items=[Lawyer.from_proto(x) for x in reply.lawyers])


@router.post("/api/v1/lawyers/{lawyer_id}/credentials", response_model=Lawyer, dependencies=[FirmAdmin])
async def submit_credentials(
    request: Request,
    lawyer_id: str,
    clients: ClientsDep,
    practice_certificate: Annotated[UploadFile, File(description="Scan of the practising certificate")],
    degree_certificate: Annotated[UploadFile, File(description="Scan of the degree certificate")],
    certificate_number: Annotated[str, Form(max_length=40)],
    inspection_due_on: Annotated[str, Form(max_length=10, description="YYYY-MM-DD")],
) -> Lawyer:
    """An admin of the lawyer's firm submits the credentials: `verification: "pending"`. The certificate
    number must be 17 digits; the inspection date not past; the lawyer ≥ 2 years in practice (else 422)."""
    reply = await clients.catalog.SubmitLawyerCredentials(
        pb.SubmitLawyerCredentialsRequest(
            lawyer_id=lawyer_id,
            certificate_number=certificate_number,
            inspection_due_on=inspection_due_on,
            practice_certificate=await _read(practice_certificate, "practice_certificate"),
            degree_certificate=await _read(degree_certificate, "degree_certificate"),
        )
    )
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)


@router.post("/api/v1/lawyers/{lawyer_id}/verify", response_model=Lawyer, dependencies=[Verifier])
async def verify_lawyer(request: Request, lawyer_id: str, body: Verification, clients: ClientsDep) -> Lawyer:
    """The operator or an admin of the lawyer's firm decides on pending credentials (409 when none are
    pending); who, when and what was checked are recorded."""
    reply = await clients.catalog.VerifyLawyer(
        pb.VerifyLawyerRequest(lawyer_id=lawyer_id, decision=body.decision, notes=body.notes)
    )
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)


@router.get(
    "/api/v1/lawyers/{lawyer_id}/verifications",
    response_model=VerificationHistory,
    dependencies=[VerificationReader],
)
async def list_verifications(lawyer_id: str, clients: ClientsDep) -> VerificationHistory:
    """The lawyer's verification history, oldest first: supervisors, the operator, the firm's admins."""
    reply = await clients.catalog.ListLawyerVerifications(
        pb.ListLawyerVerificationsRequest(lawyer_id=lawyer_id)
    )
    return VerificationHistory(items=[VerificationRecord.from_proto(v) for v in reply.verifications])
