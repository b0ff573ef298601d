"""Who may call each route of the gateway, as the tests know it: the oracle of the unit authorization matrix
(tests/unit/test_authorization_matrix.py) and of the fuzz tier's callers (tests/e2e/test_api_fuzz.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.support.journeys import PRIVACY_POLICY_VERSION
from tests.support.tokens import Issuer

STAFF_ROLES = ("lawyer", "reviewer", "agent", "editor", "firm_admin", "supervisor", "operator")


@dataclass(frozen=True)
class Actor:
    name: str
    roles: tuple[str, ...] = ()
    tenant: str = ""

    @property
    def anonymous(self) -> bool:
        return not self.roles

    def token(self, keys: Issuer) -> str:
        return keys.token(f"user-{self.name}", roles=self.roles, tenant_id=self.tenant)


ACTORS = (
    Actor("anonymous"),
    Actor("other_tenant_client", ("client",), "tenant-2"),
    Actor("same_tenant_client", ("client",), "tenant-1"),
    Actor("client_admin", ("client_admin",), "tenant-1"),
    *(Actor(role, (role,)) for role in STAFF_ROLES),
)


@dataclass(frozen=True)
class Access:
    """Who gets past the gateway: everyone (`public`), anyone signed in, or holders of `roles`."""

    public: bool = False
    roles: tuple[str, ...] = ()  # empty and not public: any signed-in user
    # A route that answers by itself (no service call), e.g. /healthz.
    local: bool = False
    # A signed-in route answered from the gateway's own store (the exports bucket), no service call: with
    # nothing stored, 404.
    own_store: bool = False

    def admits(self, actor: Actor) -> bool:
        if self.public:
            return True
        if actor.anonymous:
            return False
        return not self.roles or bool(set(self.roles) & set(actor.roles))


PUBLIC = Access(public=True)
LOCAL = Access(public=True, local=True)
SIGNED_IN = Access()
SIGNED_IN_OWN_STORE = Access(own_store=True)


def roles(*names: str) -> Access:
    return Access(roles=names)


@dataclass(frozen=True)
class Entry:
    access: Access
    body: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    # A multipart upload instead of a JSON body: field name → (file name, content, media type).
    files: dict[str, tuple[str, bytes, str]] | None = None
    # The multipart upload's other (text) fields.
    form: dict[str, str] | None = None
    # Cookies a well-formed request carries (a social login's callback: the state this browser started).
    cookies: dict[str, str] = field(default_factory=dict)
    # A server-sent event stream: admitted, it answers 200 at once and keeps going (see `first_chunk`).
    stream: bool = False
    # A WebSocket: refused before the handshake (close 4401/4403), or admitted and answering in frames.
    websocket: bool = False
    # Open only to the object's parties, which the owning service names: every signed-in caller is passed on
    # with their token, and anyone the service does not name a party is refused with 403 (close 4403).
    parties_only: bool = False


LAWYER_PROFILE = {"name": "x", "fields": ["contract"], "years_of_practice": 3}
PRODUCT = {
    "category": "document",
    "name": "x",
    "description": "x",
    "price": {"amount": 100, "currency": "CNY"},
    "tiers": [{"id": "t1", "name": "x", "price": {"amount": 100}}],
    "process": [{"stage": "s", "title": "x"}],
}


# (method, path template) → who may call it and a well-formed request. Path parameters are filled in
# with "x1". Keep it in the order of the app's routers.
MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/openapi.json"): Entry(LOCAL),
    ("GET", "/docs"): Entry(LOCAL),
    ("GET", "/docs/oauth2-redirect"): Entry(LOCAL),
    ("GET", "/redoc"): Entry(LOCAL),
    ("GET", "/docs/assets/swagger-ui-bundle.js"): Entry(LOCAL),
    ("GET", "/docs/assets/swagger-ui.css"): Entry(LOCAL),
    ("GET", "/docs/assets/redoc.standalone.js"): Entry(LOCAL),
    ("GET", "/docs/assets/favicon.png"): Entry(LOCAL),
    ("GET", "/healthz"): Entry(LOCAL),
    ("GET", "/readyz"): Entry(LOCAL),
    # identity
    ("POST", "/api/v1/auth/otp"): Entry(PUBLIC, {"channel": "sms", "destination": "13800138000"}),
    ("POST", "/api/v1/auth/register"): Entry(
        PUBLIC,
        {
            "phone": "13800138000",
            "code": "123456",
            "display_name": "x",
            "privacy_policy_version": PRIVACY_POLICY_VERSION,
        },
    ),
    ("POST", "/api/v1/auth/login"): Entry(
        PUBLIC, {"method": "password", "identifier": "a@b.cn", "secret": "x"}
    ),
    ("POST", "/api/v1/auth/refresh"): Entry(PUBLIC, {"refresh_token": "r"}),
    ("POST", "/api/v1/auth/logout"): Entry(SIGNED_IN, {}),
    ("GET", "/api/v1/auth/oauth/{provider}/authorize"): Entry(PUBLIC),
    ("GET", "/api/v1/auth/oauth/{provider}/callback"): Entry(
        PUBLIC, query={"state": "s", "code": "c"}, cookies={"counsel_oauth_state": "s"}
    ),
    ("GET", "/.well-known/jwks.json"): Entry(PUBLIC),
    ("GET", "/api/v1/me"): Entry(SIGNED_IN),
    ("PATCH", "/api/v1/me"): Entry(SIGNED_IN, {"display_name": "x"}),
    ("POST", "/api/v1/me/membership-card"): Entry(
        SIGNED_IN, {"card_number": "LF123456", "pin": "1234", "new_pin": "864209"}
    ),
    ("GET", "/api/v1/me/export"): Entry(SIGNED_IN),
    ("GET", "/api/v1/me/exports/{export_id}"): Entry(SIGNED_IN_OWN_STORE),
    ("GET", "/api/v1/me/activity"): Entry(SIGNED_IN),
    ("GET", "/api/v1/me/access-log"): Entry(SIGNED_IN),
    ("DELETE", "/api/v1/me"): Entry(SIGNED_IN),
    ("PATCH", "/api/v1/enterprise"): Entry(roles("client_admin"), {"industry": "technology"}),
    ("POST", "/api/v1/enterprise/members"): Entry(roles("client_admin"), {"email": "a@b.cn"}),
    ("GET", "/api/v1/enterprise/members"): Entry(roles("client_admin")),
    ("PUT", "/api/v1/enterprise/members/{user_id}/role"): Entry(roles("client_admin"), {"role": "client"}),
    ("DELETE", "/api/v1/enterprise/members/{user_id}"): Entry(roles("client_admin")),
    ("POST", "/api/v1/membership-cards"): Entry(
        roles("firm_admin"), {"card_number": "LF123456", "pin": "1234"}
    ),
    ("GET", "/api/v1/membership-cards"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/membership-cards/{card_id}/revoke"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/firm/service-clients"): Entry(roles("firm_admin"), {"name": "case management"}),
    ("GET", "/api/v1/firm/service-clients"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/firm/service-clients/{client_id}/revoke"): Entry(roles("firm_admin")),
    # catalog
    ("GET", "/api/v1/products"): Entry(PUBLIC),
    ("GET", "/api/v1/products/{product_id}"): Entry(PUBLIC),
    ("GET", "/api/v1/firms"): Entry(PUBLIC),
    ("GET", "/api/v1/firms/{firm_id}"): Entry(PUBLIC),
    ("GET", "/api/v1/lawyers"): Entry(PUBLIC),
    ("GET", "/api/v1/lawyers/{lawyer_id}"): Entry(PUBLIC),
    ("POST", "/api/v1/firms/{firm_id}/lawyers"): Entry(roles("firm_admin"), LAWYER_PROFILE),
    ("PUT", "/api/v1/lawyers/{lawyer_id}"): Entry(roles("firm_admin"), LAWYER_PROFILE),
    ("POST", "/api/v1/lawyers/{lawyer_id}/activate"): Entry(roles("firm_admin")),
    ("POST", "/api/v1/lawyers/{lawyer_id}/deactivate"): Entry(roles("firm_admin")),
    # onboarding (issue 24): the platform's licences for anyone; the operator onboards firms; firm admins
    # submit credentials; the operator or a firm admin verifies; supervisors also read the history
    ("GET", "/api/v1/platform"): Entry(LOCAL),
    ("POST", "/api/v1/firms"): Entry(
        roles("operator"),
        {
            "name": "x",
            "credit_code": "91350100M000100Y43",
            "registered_capital": {"amount": 100, "currency": "CNY"},
            "address": "x",
        },
    ),
    ("POST", "/api/v1/firms/{firm_id}/agreement"): Entry(
        roles("operator"),
        files={"file": ("agreement.pdf", b"signed", "application/pdf")},
        form={"starts_on": "2026-01-01", "ends_on": "2027-12-31"},
    ),
    ("POST", "/api/v1/firms/{firm_id}/admins"): Entry(roles("operator"), {"email": "a@b.cn"}),
    ("POST", "/api/v1/lawyers/{lawyer_id}/credentials"): Entry(
        roles("firm_admin"),
        files={
            "practice_certificate": ("practice.png", b"scan", "image/png"),
            "degree_certificate": ("degree.png", b"scan", "image/png"),
        },
        form={"certificate_number": "11012010100000001", "inspection_due_on": "2027-05-31"},
    ),
    ("POST", "/api/v1/lawyers/{lawyer_id}/verify"): Entry(
        roles("operator", "firm_admin"), {"decision": "verified"}
    ),
    ("GET", "/api/v1/lawyers/{lawyer_id}/verifications"): Entry(
        roles("operator", "firm_admin", "supervisor")
    ),
    ("GET", "/api/v1/lawyers/credentials"): Entry(
        roles("operator", "firm_admin"), query={"status": "pending"}
    ),
    ("POST", "/api/v1/reviews"): Entry(roles("client", "client_admin"), {"order_id": "o1", "rating": 5}),
    ("POST", "/api/v1/products"): Entry(roles("editor"), PRODUCT),
    ("PUT", "/api/v1/products/{product_id}"): Entry(roles("editor"), PRODUCT),
    ("POST", "/api/v1/products/{product_id}/submit"): Entry(roles("editor")),
    ("POST", "/api/v1/products/{product_id}/review"): Entry(roles("reviewer"), {"decision": "approve"}),
    ("GET", "/api/v1/product-versions"): Entry(roles("editor", "reviewer"), query={"status": "submitted"}),
    ("PUT", "/api/v1/firms/{firm_id}"): Entry(
        roles("firm_admin"),
        {"name": "x", "city": "北京", "address": "x", "location": {"lat": 39.9, "lng": 116.4}},
    ),
    ("PUT", "/api/v1/lawyer/status"): Entry(roles("lawyer"), {"online": True}),
    # content
    ("POST", "/api/v1/articles"): Entry(
        roles("editor", "lawyer"), {"kind": "news", "title": "x", "body": "x"}
    ),
    ("PUT", "/api/v1/articles/{article_id}"): Entry(roles("editor", "lawyer"), {"title": "x", "body": "x"}),
    ("POST", "/api/v1/articles/{article_id}/submit"): Entry(roles("editor", "lawyer")),
    ("POST", "/api/v1/articles/{article_id}/review"): Entry(roles("reviewer"), {"decision": "approve"}),
    ("GET", "/api/v1/articles"): Entry(PUBLIC),
    ("GET", "/api/v1/articles/{article_id}"): Entry(PUBLIC),
    ("GET", "/api/v1/columns"): Entry(PUBLIC),
    ("GET", "/api/v1/columns/{column_id}/issues"): Entry(roles("editor", "reviewer")),
    ("POST", "/api/v1/columns/{column_id}/issues"): Entry(
        roles("editor"), {"planned_for": "2027-01-05", "title": "x"}
    ),
    ("GET", "/api/v1/search"): Entry(PUBLIC, query={"q": "合同"}),
    # consultation: the service decides by role and tenant; staff-only operations are refused here too
    ("POST", "/api/v1/consultations"): Entry(
        roles("client", "client_admin"), {"kind": "general", "subject": "s", "question": "q"}
    ),
    ("GET", "/api/v1/consultations"): Entry(SIGNED_IN),
    ("GET", "/api/v1/consultations/{consultation_id}"): Entry(SIGNED_IN),
    ("POST", "/api/v1/consultations/{consultation_id}/close"): Entry(SIGNED_IN, {}),
    ("POST", "/api/v1/consultations/{consultation_id}/messages"): Entry(SIGNED_IN, {"body": "b"}),
    ("POST", "/api/v1/consultations/{consultation_id}/rating"): Entry(
        roles("client", "client_admin"), {"rating": 5}
    ),
    ("POST", "/api/v1/consultations/{consultation_id}/classification"): Entry(
        roles("agent", "supervisor"), {"legal_field": "ip"}
    ),
    # instant chat (R-CS-1, R-CS-2)
    ("ANY", "/api/v1/chat"): Entry(
        roles("client", "client_admin", "agent", "supervisor"),
        query={"conversation_id": "x1"},
        websocket=True,
    ),
    # online calls (§6.2.4.1, §6.2.4.4)
    ("POST", "/api/v1/calls"): Entry(roles("client", "client_admin"), {"lawyer_id": "x1", "media": "video"}),
    ("GET", "/api/v1/calls"): Entry(roles("lawyer")),
    ("GET", "/api/v1/calls/{call_id}"): Entry(SIGNED_IN),
    ("POST", "/api/v1/calls/{call_id}/accept"): Entry(roles("lawyer")),
    ("POST", "/api/v1/calls/{call_id}/end"): Entry(SIGNED_IN, {"outcome": "x"}),
    ("ANY", "/api/v1/calls/{call_id}/signal"): Entry(SIGNED_IN, websocket=True, parties_only=True),
    ("POST", "/api/v1/chat/messages"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {"body": "x"}
    ),
    ("GET", "/api/v1/chat/conversations/{conversation_id}/messages"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("GET", "/api/v1/chat/queue"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/chat/conversations/{conversation_id}/pickup"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/chat/conversations/{conversation_id}/close"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("GET", "/api/v1/chat/clients/{client_id}/insight"): Entry(roles("agent", "supervisor")),
    ("GET", "/api/v1/chat/leads"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/chat/clients/{client_id}/conversations"): Entry(
        roles("agent", "supervisor"), {"body": "x"}
    ),
    ("GET", "/api/v1/lawyer/queue"): Entry(roles("lawyer")),
    ("GET", "/api/v1/agent/at-risk"): Entry(roles("agent", "supervisor")),
    ("POST", "/api/v1/consultations/{consultation_id}/complaints"): Entry(
        roles("client", "client_admin"), {"body": "b"}
    ),
    ("GET", "/api/v1/complaints"): Entry(SIGNED_IN),
    ("POST", "/api/v1/complaints/{complaint_id}"): Entry(
        roles("agent", "supervisor"), {"status": "in_progress"}
    ),
    ("POST", "/api/v1/complaints"): Entry(
        roles("client", "client_admin"), {"subject_type": "consultation", "subject_id": "c1", "body": "b"}
    ),
    ("GET", "/api/v1/complaints/{complaint_id}"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("POST", "/api/v1/complaints/{complaint_id}/resolve"): Entry(
        roles("agent", "supervisor"), {"resolution": "r"}
    ),
    ("POST", "/api/v1/complaints/{complaint_id}/reopen"): Entry(
        roles("client", "client_admin"), {"reason": "r"}
    ),
    ("POST", "/api/v1/complaints/{complaint_id}/accept"): Entry(roles("client", "client_admin")),
    # major matters (R-CON-4): the assigned lawyer, agents and supervisors escalate; the team concludes
    ("POST", "/api/v1/consultations/{consultation_id}/major"): Entry(
        roles("lawyer", "agent", "supervisor"), {"reason": "r"}
    ),
    ("POST", "/api/v1/consultations/{consultation_id}/conclusion"): Entry(roles("lawyer"), {"body": "b"}),
    ("POST", "/api/v1/consultations/{consultation_id}/conclusion/sign"): Entry(roles("lawyer")),
    # quality supervision, the question bank and assessments (catalog)
    ("GET", "/api/v1/qc/samples"): Entry(roles("supervisor")),
    ("POST", "/api/v1/qc/samples/{sample_id}/score"): Entry(
        roles("supervisor"), {"score": 2, "passed": False, "findings": "x"}
    ),
    ("GET", "/api/v1/qc/risk-flags"): Entry(roles("supervisor")),
    ("GET", "/api/v1/qc/records"): Entry(roles("supervisor")),
    ("GET", "/api/v1/question-bank"): Entry(roles("supervisor", "lawyer")),
    ("POST", "/api/v1/question-bank"): Entry(
        roles("supervisor"),
        {"field": "labour", "difficulty": 2, "stem": "x", "choices": ["a", "b"], "answer": 0},
    ),
    ("POST", "/api/v1/assessments"): Entry(roles("lawyer"), {"field": "labour"}),
    ("POST", "/api/v1/assessments/{assessment_id}/answers"): Entry(roles("lawyer"), {"answers": [0]}),
    ("GET", "/api/v1/assessments"): Entry(roles("supervisor", "lawyer")),
    ("GET", "/api/v1/recommendations"): Entry(roles("client", "client_admin", "agent", "supervisor")),
    ("POST", "/api/v1/consultations/{consultation_id}/calls"): Entry(roles("agent"), {"lawyer_id": "l1"}),
    ("POST", "/api/v1/consultations/{consultation_id}/calls/{call_id}/end"): Entry(
        roles("agent"), {"outcome": "done"}
    ),
    # notification
    ("GET", "/api/v1/notifications"): Entry(SIGNED_IN),
    ("GET", "/api/v1/notifications/stream"): Entry(SIGNED_IN, stream=True),
    ("GET", "/api/v1/notifications/deliveries"): Entry(SIGNED_IN),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Entry(SIGNED_IN),
    ("GET", "/api/v1/me/notification-preferences"): Entry(SIGNED_IN),
    ("PUT", "/api/v1/me/notification-preferences"): Entry(
        SIGNED_IN,
        {"channels": {"email": True, "sms": False}, "quiet_hours": {"start": "22:00", "end": "08:00"}},
    ),
    # document services
    ("POST", "/api/v1/document-orders"): Entry(
        roles("agent", "supervisor"), {"tenant_id": "tenant-1", "client_id": "user-1", "complexity": "simple"}
    ),
    ("GET", "/api/v1/document-orders"): Entry(SIGNED_IN),
    ("GET", "/api/v1/document-orders/{document_order_id}"): Entry(SIGNED_IN),
    ("POST", "/api/v1/document-orders/{document_order_id}/acknowledge"): Entry(roles("agent"), {}),
    ("POST", "/api/v1/document-orders/{document_order_id}/assignment"): Entry(
        roles("agent", "supervisor"), {"lawyer_id": "lawyer-1"}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/drafts"): Entry(
        roles("lawyer"), files={"file": ("draft.txt", b"draft", "text/plain")}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/review"): Entry(
        roles("reviewer"), {"decision": "approve"}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/revisions"): Entry(
        roles("client", "client_admin"), {"instructions": "shorter"}
    ),
    ("POST", "/api/v1/document-orders/{document_order_id}/accept"): Entry(roles("client", "client_admin")),
    ("GET", "/api/v1/document-orders/{document_order_id}/versions/{number}/file"): Entry(SIGNED_IN),
    # orders and payment: clients buy and pay, agents and supervisors follow and refund; the service scopes
    # every order by tenant; providers and anyone verifying a voucher need no account
    ("POST", "/api/v1/orders"): Entry(roles("client", "client_admin"), {"product_id": "p1"}),
    ("GET", "/api/v1/orders"): Entry(roles("client", "client_admin", "agent", "supervisor")),
    ("GET", "/api/v1/orders/{order_id}"): Entry(roles("client", "client_admin", "agent", "supervisor")),
    ("GET", "/api/v1/orders/{order_id}/timeline"): Entry(
        roles("client", "client_admin", "agent", "supervisor")
    ),
    ("POST", "/api/v1/orders/{order_id}/cancel"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {}
    ),
    ("POST", "/api/v1/orders/{order_id}/refund"): Entry(roles("agent", "supervisor"), {}),
    ("POST", "/api/v1/orders/{order_id}/payments"): Entry(
        roles("client", "client_admin"), {"method": "sandbox"}
    ),
    ("GET", "/api/v1/orders/{order_id}/voucher"): Entry(SIGNED_IN),
    ("GET", "/api/v1/orders/{order_id}/invoice"): Entry(SIGNED_IN),
    ("POST", "/api/v1/payments/notify/{provider}"): Entry(PUBLIC, {"notify_id": "n1"}),
    ("POST", "/api/v1/telephony/receipts/{provider}/{message_type}"): Entry(PUBLIC, query={"token": "t"}),
    ("GET", "/api/v1/vouchers/{code}/verify"): Entry(PUBLIC),
    ("GET", "/api/v1/ledger/verify"): Entry(roles("supervisor")),
    # booking (R-BK-1..3, R-Q-4): anyone sees free slots; clients book, lawyers run the meeting and record
    # visits, agents follow; the booking service scopes every booking and visit by tenant again
    ("GET", "/api/v1/lawyers/{lawyer_id}/availability"): Entry(PUBLIC),
    ("GET", "/api/v1/connect"): Entry(PUBLIC),
    ("POST", "/api/v1/connect/requests"): Entry(
        roles("client", "client_admin"), {"lawyer_id": "l1", "mode": "meeting", "needs": "n"}
    ),
    ("GET", "/api/v1/connect/requests"): Entry(
        roles("client", "client_admin", "lawyer", "agent", "supervisor")
    ),
    ("POST", "/api/v1/bookings"): Entry(
        roles("client", "client_admin"),
        {"lawyer_id": "l1", "mode": "at_firm", "start": "2030-01-07T10:00:00+08:00", "minutes": 60},
    ),
    ("GET", "/api/v1/bookings"): Entry(roles("client", "client_admin", "lawyer", "agent", "supervisor")),
    ("GET", "/api/v1/bookings/{booking_id}"): Entry(
        roles("client", "client_admin", "lawyer", "agent", "supervisor")
    ),
    ("POST", "/api/v1/bookings/{booking_id}/reschedule"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {"start": "2030-01-07T11:00:00+08:00"}
    ),
    ("POST", "/api/v1/bookings/{booking_id}/cancel"): Entry(
        roles("client", "client_admin", "agent", "supervisor"), {}
    ),
    ("POST", "/api/v1/bookings/{booking_id}/check-in"): Entry(roles("lawyer")),
    ("POST", "/api/v1/bookings/{booking_id}/complete"): Entry(roles("lawyer"), {"summary": "s"}),
    ("POST", "/api/v1/bookings/{booking_id}/quality-checklist"): Entry(
        roles("lawyer"), {"checklist": {"advice_given": True}}
    ),
    ("POST", "/api/v1/bookings/{booking_id}/rating"): Entry(roles("client", "client_admin"), {"rating": 5}),
    ("POST", "/api/v1/bookings/{booking_id}/quality-checklist/confirmation"): Entry(
        roles("client", "client_admin"), {"checklist": {"advice_given": True}}
    ),
    ("POST", "/api/v1/visits"): Entry(
        roles("lawyer"), {"enterprise_id": "t1", "date": "2026-11-01", "findings": "f"}
    ),
    ("GET", "/api/v1/visits"): Entry(roles("client", "client_admin", "lawyer", "supervisor")),
    # local development only (COUNSEL_ENV dev/test)
    ("GET", "/api/v1/dev/outbox"): Entry(PUBLIC, query={"to": "13800138000"}),
    ("POST", "/api/v1/dev/sandbox-pay/{payment_id}"): Entry(PUBLIC),
    # the Temporal UI's codec server (answers by itself: no service call)
    ("OPTIONS", "/codec/{operation}"): Entry(LOCAL),
    ("POST", "/codec/encode"): Entry(Access(roles=("supervisor", "operator"), local=True), {"payloads": []}),
    ("POST", "/codec/decode"): Entry(Access(roles=("supervisor", "operator"), local=True), {"payloads": []}),
}
