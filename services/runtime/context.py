"""Request-scoped context that travels gateway → gRPC metadata → NATS headers → workflows."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

CORRELATION_HEADER = "x-correlation-id"
# The role of a law firm's system calling with the firm's service credentials (identity issues it).
FIRM_SERVICE_ROLE = "firm_service"

correlation_id_var: ContextVar[str] = ContextVar("correlation_id", default="")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    return correlation_id_var.get()


@dataclass(frozen=True)
class Principal:
    """Who is calling. `tenant_id` is the client enterprise; staff have none."""

    user_id: str
    tenant_id: str = ""
    roles: frozenset[str] = field(default_factory=frozenset)
    # The law firm of a firm's staff member or of a firm's system (service credentials); "" otherwise.
    firm_id: str = ""
    # For a firm's system: the ids (catalog profiles and identity accounts) of its firm's lawyers, whose work
    # it may read — filled in from the catalog by the services that answer firms
    # (services/runtime/firm_roster.py), else empty.
    firm_lawyers: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_firm_system(self) -> bool:
        """A law firm's own system, calling with its service credentials (role firm_service)."""
        return self.has_role(FIRM_SERVICE_ROLE)

    def reads_work_of(self, lawyer_account: str) -> bool:
        """A firm's system reads the bookings, document orders and consultations of its firm's lawyers."""
        return self.is_firm_system and bool(lawyer_account) and lawyer_account in self.firm_lawyers

    @property
    def is_client(self) -> bool:
        return self.has_role("client", "client_admin")


principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)


def current_principal() -> Principal | None:
    return principal_var.get()


# The caller's raw bearer token, forwarded on outgoing gRPC calls made on the caller's behalf.
access_token_var: ContextVar[str] = ContextVar("access_token", default="")
