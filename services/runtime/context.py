"""Request-scoped context that travels gateway → gRPC metadata → NATS headers → workflows."""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

CORRELATION_HEADER = "x-correlation-id"

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

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_client(self) -> bool:
        return self.has_role("client", "client_admin")


principal_var: ContextVar[Principal | None] = ContextVar("principal", default=None)


def current_principal() -> Principal | None:
    return principal_var.get()


# The caller's raw bearer token, forwarded on outgoing gRPC calls made on the caller's behalf.
access_token_var: ContextVar[str] = ContextVar("access_token", default="")


# The process that made the current gRPC call (its mutual-TLS identity: "gateway", "worker", "payment", …).
caller_var: ContextVar[str] = ContextVar("caller", default="")


def current_caller() -> str:
    return caller_var.get()
