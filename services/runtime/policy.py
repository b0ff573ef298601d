"""Who may call each RPC: one table for the whole platform, enforced by the gRPC server's interceptor
(services/runtime/grpc_server.py) before any servicer runs (R-OPS-3, docs/security.md).

An entry names the calling *processes* (their mutual-TLS identities) and what each must bring:
- USER: an end user's access token, verified here; the servicer then checks the user's role and tenant.
  The gateway's calls on a signed-in route are USER, so a call without a token can never be mistaken for
  the platform acting on its own.
- ANYONE: a token is optional (public reads, logging in, a provider's signed notification); without one the
  servicer sees an anonymous caller and answers only what anyone may see.
- ITSELF: the process acts on its own behalf (the worker recording a stage, payment reading a product for an
  order); without a token the servicer sees the platform, which only these callers can ever be.

An RPC missing from the table, or a caller missing from an entry, is refused: new RPCs are closed until
someone decides who may call them (tests/unit/test_grpc_policy.py fails on a missing entry)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from google.protobuf.descriptor import ServiceDescriptor

USER = "user"
ANYONE = "anyone"
ITSELF = "itself"

# The processes that hold a counsel identity.
SERVICES = ("identity", "catalog", "consultation", "documents", "booking", "payment", "notification")
PROCESSES = (*SERVICES, "gateway", "worker", "operator")

Callers = Mapping[str, str]

SIGNED_IN: Callers = {"gateway": USER}
PUBLIC: Callers = {"gateway": ANYONE}
WORKFLOW: Callers = {"worker": ITSELF}
SIGNED_IN_OR_WORKFLOW: Callers = {"gateway": USER, "worker": ITSELF}
EVERY_OTHER_PROCESS: Callers = {process: ANYONE for process in PROCESSES if process != "identity"}

_TABLE: dict[str, dict[str, Callers]] = {
    "counsel.identity.v1.IdentityService": {
        "Login": PUBLIC,
        "RequestOtp": PUBLIC,
        "Register": PUBLIC,
        "Refresh": PUBLIC,
        "Logout": PUBLIC,  # a refresh token is the credential; an expired access token must still log out
        "StartOidcLogin": PUBLIC,
        "FinishOidcLogin": PUBLIC,
        "GetMe": SIGNED_IN,
        "UpdateMe": SIGNED_IN,
        "UpdateEnterprise": SIGNED_IN,
        "IssueMembershipCard": SIGNED_IN,
        "RevokeMembershipCard": SIGNED_IN,
        "ListMembershipCards": SIGNED_IN,
        "LinkMembershipCard": SIGNED_IN,
        "InviteMember": SIGNED_IN,
        "InviteFirmAdmin": SIGNED_IN,  # the operator role (a user), checked by the servicer
        "ExportMyData": SIGNED_IN,
        "ListMyActivity": SIGNED_IN,
        "ListUserActivity": SIGNED_IN,
        "EraseMe": SIGNED_IN,
        "ListMembers": SIGNED_IN,
        "SetMemberRole": SIGNED_IN,
        "CreateServiceClient": SIGNED_IN,
        "RevokeServiceClient": SIGNED_IN,
        "ListServiceClients": SIGNED_IN,
        "RemoveMember": SIGNED_IN,
        # A firm system's client-credentials exchange: the secret is the credential. Firms reach counsel
        # through the gateway process only: its firm endpoint (FIRM_ENDPOINT below).
        "IssueServiceToken": PUBLIC,
    },
    "counsel.identity.v1.IdentityInternalService": {
        # Public keys and revoked tokens: every process verifies tokens with them.
        "GetJwks": EVERY_OTHER_PROCESS,
        "ListTokenRevocations": EVERY_OTHER_PROCESS,
        "RotateSigningKey": WORKFLOW,  # the SigningKeyRotationWorkflow's clock
        # Contact details of users, decrypted: the notification service, to deliver messages, and consultation,
        # whose privacy-number telephony binds the client's and the lawyer's own phones (never shown to either).
        "GetUser": {"notification": ITSELF, "consultation": ITSELF},
        "ListUsersByRole": {"notification": ITSELF},
        # A lawyer's visit names a client enterprise that exists (booking, with the lawyer's token).
        "GetEnterprise": {"booking": ITSELF},
    },
    "counsel.catalog.v1.CatalogService": {
        # Consultation names the phone consultation product a client must buy before an online call.
        "ListProducts": {"gateway": ANYONE, "booking": ITSELF, "consultation": ITSELF},
        "GetProduct": {"gateway": ANYONE, "booking": ITSELF, "documents": ITSELF, "payment": ITSELF},
        "ListFirms": PUBLIC,
        "GetFirm": {"gateway": ANYONE, "booking": ITSELF},
        # Booking lists lawyers for availability; booking, documents and consultation read a firm's roster
        # with the firm system's own token to answer its reads (services/runtime/firm_roster.py).
        # Consultation also reads a field's roster to form a major matter's team (R-CON-4).
        "ListLawyers": {"gateway": ANYONE, "booking": ITSELF, "documents": ITSELF, "consultation": ITSELF},
        # Consultation checks that a lawyer called online is online, and who answers for them.
        "GetLawyer": {"gateway": ANYONE, "booking": ITSELF, "consultation": ITSELF},
        "ListArticles": {"gateway": ANYONE, "consultation": ITSELF},
        "GetArticle": PUBLIC,
        "CreateLawyer": SIGNED_IN,
        "UpdateLawyer": SIGNED_IN,
        "ActivateLawyer": SIGNED_IN,
        "DeactivateLawyer": SIGNED_IN,
        "CreateArticle": SIGNED_IN,
        "UpdateArticle": SIGNED_IN,
        "SubmitArticle": SIGNED_IN,
        "ReviewArticle": SIGNED_IN,
        "CreateReview": SIGNED_IN,
        # Quality supervision and the question bank (issue 23): supervisors and lawyers through the gateway.
        "ListQcSamples": SIGNED_IN,
        "ScoreQcSample": SIGNED_IN,
        "ListRiskFlags": SIGNED_IN,
        "ListQualityRecords": SIGNED_IN,
        "ListQuestions": SIGNED_IN,
        "CreateQuestion": SIGNED_IN,
        "StartAssessment": SIGNED_IN,
        "SubmitAssessment": SIGNED_IN,
        "ListAssessmentResults": SIGNED_IN,
        "UpsertProduct": SIGNED_IN,
        "UpdateFirm": SIGNED_IN,
        "SetLawyerOnline": SIGNED_IN,
        "GetOwnLawyer": SIGNED_IN,
        "WatchFirmEvents": SIGNED_IN,
        "ExportCatalogData": SIGNED_IN,
        # Products go public through review (issue 23 item 5): editors draft and submit, reviewers decide.
        "CreateProduct": SIGNED_IN,
        "SubmitProduct": SIGNED_IN,
        "ReviewProduct": SIGNED_IN,
        "ListProductVersions": SIGNED_IN,
        # Editorial columns (issue 24 item 5): anyone reads them; editors plan their issues.
        "ListColumns": PUBLIC,
        "PlanColumnIssue": SIGNED_IN,
        "ListColumnIssues": SIGNED_IN,
        # Onboarding (issue 24): the platform operator (a user role, not the `operator` process), firm
        # admins and supervisors; the servicer checks which.
        "RegisterFirm": SIGNED_IN,
        "RecordFirmAgreement": SIGNED_IN,
        "AddFirmAdmin": SIGNED_IN,
        "SubmitLawyerCredentials": SIGNED_IN,
        "VerifyLawyer": SIGNED_IN,
        "ListLawyerVerifications": SIGNED_IN,
        "ListPendingCredentials": SIGNED_IN,
        "GetRecommendations": SIGNED_IN,
    },
    "counsel.catalog.v1.CatalogInternalService": {
        "WarnAgreementEnding": WORKFLOW,  # the QualificationDeadlineWorkflow's clocks
        "RefreshLawyerStanding": WORKFLOW,
    },
    "counsel.consultation.v1.ConsultationService": {
        "CreateConsultation": SIGNED_IN,
        "GetConsultation": SIGNED_IN,
        "ListStaffAccess": SIGNED_IN,
        "ListConsultations": SIGNED_IN,
        "CloseConsultation": SIGNED_IN_OR_WORKFLOW,
        "PostMessage": SIGNED_IN,
        "ListLawyerQueue": SIGNED_IN,
        "RateConsultation": SIGNED_IN,
        "ReclassifyConsultation": SIGNED_IN,
        "ListAtRisk": SIGNED_IN,
        "RaiseComplaint": SIGNED_IN,
        "ListComplaints": SIGNED_IN,
        "UpdateComplaint": SIGNED_IN,
        "GetComplaint": SIGNED_IN,
        "ReopenComplaint": SIGNED_IN,
        "AcceptComplaint": SIGNED_IN,
        "StartCall": SIGNED_IN,
        "EndCall": SIGNED_IN,
        "StartOnlineCall": SIGNED_IN,
        "GetOnlineCall": SIGNED_IN,
        "AcceptOnlineCall": SIGNED_IN,
        "EndOnlineCall": SIGNED_IN,
        "ListOnlineCalls": SIGNED_IN,
        "PostChatMessage": SIGNED_IN,
        "ListChatMessages": SIGNED_IN,
        "ListChatQueue": SIGNED_IN,
        "PickUpChat": SIGNED_IN,
        "CloseChat": SIGNED_IN,
        "GetPurchaseIntent": SIGNED_IN,
        "ListPurchaseLeads": SIGNED_IN,
        "StartChat": SIGNED_IN,
        "ExportConsultationData": SIGNED_IN,  # the person's own records (their data export)
        "EscalateMajorMatter": SIGNED_IN,
        "WriteMajorConclusion": SIGNED_IN,
        "SignMajorConclusion": SIGNED_IN,
    },
    "counsel.consultation.v1.ConsultationInternalService": {
        "RecordStage": WORKFLOW,
        "ClassifyConsultation": WORKFLOW,
        "AssignLawyer": WORKFLOW,
        "EscalateConsultation": WORKFLOW,
        "EscalateComplaint": WORKFLOW,
        "CloseComplaint": WORKFLOW,
        # A telephony provider's receipt push, through the gateway: its credential is checked in the service.
        "HandleTelephonyReceipt": PUBLIC,
    },
    "counsel.documents.v1.DocumentsService": {
        "ListStaffAccess": SIGNED_IN,
        "GetDocumentOrder": SIGNED_IN,
        "ListDocumentOrders": SIGNED_IN,
        "CreateDocumentOrder": SIGNED_IN_OR_WORKFLOW,
        "AcknowledgeDocumentOrder": SIGNED_IN,
        "AssignDocumentOrder": SIGNED_IN,
        "UploadDraft": SIGNED_IN,
        "ReviewDraft": SIGNED_IN,
        "RequestRevision": SIGNED_IN,
        "AcceptDocumentOrder": SIGNED_IN,
        "DownloadVersion": SIGNED_IN,
        "StreamVersion": SIGNED_IN,
        # Staff cancel through the gateway; an operator runs `python -m services.documents.tools cancel`.
        "CancelDocumentOrder": {"gateway": USER, "operator": ITSELF},
        "ExportDocumentsData": SIGNED_IN,
    },
    "counsel.documents.v1.DocumentsInternalService": {
        "RecordStage": WORKFLOW,
        "RecordBreach": WORKFLOW,
    },
    "counsel.booking.v1.BookingService": {
        "ListStaffAccess": SIGNED_IN,
        "GetBooking": SIGNED_IN,
        "GetAvailability": PUBLIC,
        "CreateBooking": SIGNED_IN,
        "ListBookings": SIGNED_IN,
        "RescheduleBooking": SIGNED_IN,
        "CancelBooking": SIGNED_IN,
        "CheckInBooking": SIGNED_IN,
        "CompleteBooking": SIGNED_IN_OR_WORKFLOW,
        "CreateVisit": SIGNED_IN,
        "ListVisits": SIGNED_IN,
        "RecordQuality": SIGNED_IN,
        "GetConnectProcess": PUBLIC,
        "CreateConnectRequest": SIGNED_IN,
        "ListConnectRequests": SIGNED_IN,
        "ExportBookingData": SIGNED_IN,
    },
    "counsel.booking.v1.BookingInternalService": {
        "ConfirmBooking": WORKFLOW,
        "ExpireBooking": WORKFLOW,
        "MarkNoShow": WORKFLOW,
        "RemindBooking": WORKFLOW,
        # A major matter's meeting, held by consultation (R-CON-4); the escalating staff member's token
        # travels with the call and booking checks their role.
        "ProposeMeeting": {"consultation": ITSELF},
    },
    "counsel.payment.v1.PaymentService": {
        "ListStaffAccess": SIGNED_IN,
        "GetOrder": {"gateway": USER, "consultation": ITSELF},
        "GetOrderTimeline": SIGNED_IN,  # deprecated: UNIMPLEMENTED, the gateway joins the timeline
        # Consultation looks for a paid order to pay for an online call with the client's token (none: refused).
        "ListOrders": {"gateway": USER, "consultation": ITSELF},
        "CreateOrder": SIGNED_IN,
        "CancelOrder": SIGNED_IN,
        "CreatePayment": SIGNED_IN,
        "VerifyVoucher": PUBLIC,
        "GetVoucher": SIGNED_IN,
        "GetInvoice": SIGNED_IN,
        "VerifyLedger": SIGNED_IN,
        "RefundOrder": SIGNED_IN_OR_WORKFLOW,
        "ExportPaymentData": SIGNED_IN,
    },
    "counsel.payment.v1.PaymentInternalService": {
        # Providers are anonymous on the wire; their notifications prove themselves by signature.
        "HandleNotification": PUBLIC,
        "SandboxPay": PUBLIC,  # the sandbox provider's pay page (dev and test; refused elsewhere)
        "ExpireOrder": WORKFLOW,
        "AdvanceOrder": WORKFLOW,
        "IssueVoucher": WORKFLOW,
        "IssueInvoice": WORKFLOW,
        "GetOrderRequirements": WORKFLOW,
    },
    "counsel.notification.v1.NotificationService": {
        "ListNotifications": SIGNED_IN,
        "MarkNotificationRead": SIGNED_IN,
        "GetPreferences": SIGNED_IN,
        "UpdatePreferences": SIGNED_IN,
        "ListDeliveries": SIGNED_IN,
        "ExportNotificationData": SIGNED_IN,
    },
    "counsel.notification.v1.NotificationInternalService": {
        "ListDevOutbox": PUBLIC,  # refused by the service outside dev and test
        # Messages from the platform's own sender (login codes, invitations): identity only.
        "SendDirect": {"identity": ITSELF},
    },
}

# What a law firm's system may call at the firm endpoint (services/gateway/firm_endpoint.py, issue 17 item
# 4): the RPCs the endpoint forwards, with the firm's token, as the gateway; every other method is
# UNIMPLEMENTED there. Each service still checks the firm_service role and the firm behind it.
FIRM_ENDPOINT: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "counsel.identity.v1.IdentityService": (
            "IssueServiceToken",
            "IssueMembershipCard",
            "ListMembershipCards",
            "RevokeMembershipCard",
        ),
        "counsel.catalog.v1.CatalogService": (
            "GetFirm",
            "UpdateFirm",
            "ListLawyers",
            "GetLawyer",
            "CreateLawyer",
            "UpdateLawyer",
            "ActivateLawyer",
            "DeactivateLawyer",
            "WatchFirmEvents",
            "SubmitLawyerCredentials",
            "VerifyLawyer",
            "ListLawyerVerifications",
        ),
        "counsel.booking.v1.BookingService": ("GetAvailability", "ListBookings", "GetBooking"),
        "counsel.documents.v1.DocumentsService": ("ListDocumentOrders", "GetDocumentOrder"),
        "counsel.consultation.v1.ConsultationService": ("ListConsultations", "GetConsultation"),
    }
)
# The one firm-endpoint RPC called without a token: it is how a firm's system gets one.
FIRM_TOKEN_EXCHANGE = "/counsel.identity.v1.IdentityService/IssueServiceToken"

POLICY: Mapping[str, Callers] = MappingProxyType(
    {
        f"/{service}/{method}": MappingProxyType(dict(callers))
        for service, methods in _TABLE.items()
        for method, callers in methods.items()
    }
)


def callers_of(full_method: str) -> Callers | None:
    """The entry of `/package.Service/Method`, or None when the RPC has none (refused)."""
    return POLICY.get(full_method)


def service_descriptors() -> list[ServiceDescriptor]:
    """Every gRPC service of counsel's contract (the RPCs this table must cover)."""
    return [
        service
        for name in SERVICES
        for service in importlib.import_module(
            f"counsel.{name}.v1.{name}_service_pb2"
        ).DESCRIPTOR.services_by_name.values()
    ]
