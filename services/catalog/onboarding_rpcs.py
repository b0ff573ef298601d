"""CatalogService's onboarding RPCs (issue 24 items 1 and 2): the operator registers firms, records their
cooperation agreements and appoints their admins; firm admins submit lawyers' credentials; the operator or a
firm admin verifies them; and the two calls of the QualificationDeadlineWorkflow's clocks
(CatalogInternalService). Part of CatalogServicer (server.py)."""

from __future__ import annotations

from datetime import date

import grpc

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.catalog import domain, qualifications
from services.catalog.models import LawyerRow, LawyerVerificationRow
from services.catalog.profile_protos import firm_proto, lawyer_proto
from services.catalog.store import CatalogStores
from services.catalog.workflow_link import QualificationClocks
from services.runtime.context import Principal, current_principal
from services.runtime.errors import InvalidArgument, PermissionDenied
from services.runtime.records import to_timestamp, utcnow
from services.runtime.tenancy import signed_in


def verification_proto(row: LawyerVerificationRow) -> pb.LawyerVerification:
    return pb.LawyerVerification(
        decision=row.decision,
        notes=row.notes,
        verifier_id=row.verifier_id,
        verifier_role=row.verifier_role,
        decided_at=to_timestamp(row.decided_at),
        certificate_number=row.certificate_number,
        inspection_due_on=row.inspection_due_on.isoformat() if row.inspection_due_on else "",
        practice_certificate_sha256=row.practice_certificate_sha256,
        degree_certificate_sha256=row.degree_certificate_sha256,
        years_of_practice=row.years_of_practice,
    )


class OnboardingRpcs:
    """A change with a date starts its clock first, then commits: a committed date never lacks its clock, and
    a clock whose change never committed warns of nothing and only recomputes standing."""

    stores: CatalogStores
    clocks: QualificationClocks | None

    async def lawyer_reply(self, row: LawyerRow, principal: Principal | None) -> pb.Lawyer:
        reasons = await self.stores.lawyers.unavailable_reasons([row])
        return lawyer_proto(row, principal, reasons[row.id])

    async def firm_reply(self, firm_id: str) -> pb.Firm:
        return firm_proto(await self.stores.firms.get_firm(firm_id), current_principal())

    async def RegisterFirm(
        self, request: pb.RegisterFirmRequest, context: grpc.aio.ServicerContext
    ) -> pb.RegisterFirmResponse:
        principal = qualifications.require_operator(current_principal(), "onboard a firm")
        registration = qualifications.validate_registration(
            request.name,
            request.credit_code,
            request.registered_capital.amount,
            request.registered_capital.currency,
            request.address,
            request.city,
            request.location.lat,
            request.location.lng,
        )
        row = await self.stores.onboarding.register_firm(principal, registration, request.idempotency_key)
        return pb.RegisterFirmResponse(firm=await self.firm_reply(row.id))

    async def RecordFirmAgreement(
        self, request: pb.RecordFirmAgreementRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordFirmAgreementResponse:
        qualifications.require_operator(current_principal(), "record a cooperation agreement")
        starts_on, ends_on = qualifications.validate_agreement(
            request.starts_on, request.ends_on, request.content
        )
        firm = await self.stores.firms.get_firm(request.firm_id)
        if self.clocks is not None:
            await self.clocks.agreement(firm.id, ends_on)
        row = await self.stores.onboarding.record_agreement(firm.id, request.content, starts_on, ends_on)
        return pb.RecordFirmAgreementResponse(firm=await self.firm_reply(row.id))

    async def AddFirmAdmin(
        self, request: pb.AddFirmAdminRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddFirmAdminResponse:
        qualifications.require_operator(current_principal(), "appoint a firm's admin")
        if not request.user_id or len(request.user_id) > 64:
            raise InvalidArgument.for_field("user_id", "is required, at most 64 characters")
        row = await self.stores.onboarding.add_admin(request.firm_id, request.user_id)
        return pb.AddFirmAdminResponse(firm=await self.firm_reply(row.id))

    async def SubmitLawyerCredentials(
        self, request: pb.SubmitLawyerCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitLawyerCredentialsResponse:
        principal = domain.require_firm_manager(current_principal())
        lawyer = await self.stores.lawyers.get_lawyer(principal, request.lawyer_id)
        credentials = qualifications.validate_credentials(
            request.certificate_number,
            request.inspection_due_on,
            request.practice_certificate,
            request.degree_certificate,
            lawyer.years_of_practice,
            qualifications.today_in_china(utcnow()),
        )
        if self.clocks is not None:
            await self.clocks.inspection(lawyer.id, credentials.inspection_due_on)
        row = await self.stores.onboarding.submit_credentials(principal, request.lawyer_id, credentials)
        return pb.SubmitLawyerCredentialsResponse(lawyer=await self.lawyer_reply(row, principal))

    async def VerifyLawyer(
        self, request: pb.VerifyLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyLawyerResponse:
        principal = signed_in(current_principal(), "verify a lawyer")
        if (
            not principal.has_role(qualifications.OPERATOR_ROLE, "firm_admin")
            and not principal.is_firm_system
        ):
            raise PermissionDenied("only the operator or the lawyer's firm admin verifies credentials")
        decision, notes = qualifications.validate_decision(request.decision, request.notes)
        row = await self.stores.onboarding.verify(principal, request.lawyer_id, decision, notes)
        return pb.VerifyLawyerResponse(lawyer=await self.lawyer_reply(row, principal))

    async def ListLawyerVerifications(
        self, request: pb.ListLawyerVerificationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLawyerVerificationsResponse:
        principal = signed_in(current_principal(), "read verifications")
        rows = await self.stores.onboarding.verifications(principal, request.lawyer_id)
        return pb.ListLawyerVerificationsResponse(verifications=[verification_proto(row) for row in rows])

    async def ListPendingCredentials(
        self, request: pb.ListPendingCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPendingCredentialsResponse:
        principal = signed_in(current_principal(), "read credentials awaiting verification")
        rows = await self.stores.onboarding.pending_credentials(principal)
        reasons = await self.stores.lawyers.unavailable_reasons(rows)
        return pb.ListPendingCredentialsResponse(
            lawyers=[lawyer_proto(row, principal, reasons[row.id]) for row in rows]
        )

    # --- CatalogInternalService -------------------------------------------------------------------------

    async def WarnAgreementEnding(
        self, request: pb.WarnAgreementEndingRequest, context: grpc.aio.ServicerContext
    ) -> pb.WarnAgreementEndingResponse:
        try:
            ends_on = date.fromisoformat(request.agreement_ends_on)
        except ValueError:
            raise InvalidArgument.for_field("agreement_ends_on", "must be a date (YYYY-MM-DD)") from None
        firm = await self.stores.onboarding.warn_agreement_ending(request.firm_id, ends_on)
        return pb.WarnAgreementEndingResponse(
            agreement_ends_on=ends_on.isoformat() if firm is not None else ""
        )

    async def RefreshLawyerStanding(
        self, request: pb.RefreshLawyerStandingRequest, context: grpc.aio.ServicerContext
    ) -> pb.RefreshLawyerStandingResponse:
        count = await self.stores.onboarding.refresh_standing(request.firm_id, request.lawyer_id)
        return pb.RefreshLawyerStandingResponse(republished=count)
