"""Domain errors. Domain code raises these; one server interceptor turns them into gRPC statuses and the
gateway turns statuses into problem+json. Nothing else translates errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class FieldViolation:
    field: str
    message: str


class DomainError(Exception):
    """A refusal the caller can act on. `reason` is a stable machine-readable code."""

    code: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    reason: str = "failed_precondition"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        violations: tuple[FieldViolation, ...] | list[FieldViolation] = (),
        retry_after_seconds: int = 0,
        members: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason
        self.violations = tuple(violations)
        # Seconds until a retry may succeed (RateLimited → HTTP Retry-After); 0 when unknown.
        self.retry_after_seconds = retry_after_seconds
        # Facts the caller acts on beyond the reason (order_required's product_id): the problem's extension
        # members, which never replace its standard ones.
        self.members = dict(members or {})


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "invalid_argument"

    @classmethod
    def for_field(cls, field: str, message: str) -> InvalidArgument:
        return cls(f"{field}: {message}", violations=[FieldViolation(field, message)])


class NotFound(DomainError):
    """Also raised for objects of another tenant, so their existence is never revealed."""

    code = grpc.StatusCode.NOT_FOUND
    reason = "not_found"


class Conflict(DomainError):
    """Wrong state for the command, or an idempotency key reused with another request."""

    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "conflict"


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "already_exists"


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED
    reason = "permission_denied"


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED
    reason = "unauthenticated"


class RateLimited(DomainError):
    """Too many attempts; pass `retry_after_seconds` so the gateway can answer `Retry-After`."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "rate_limited"


class Unavailable(DomainError):
    """A dependency of this call (another service, a provider) did not answer; retrying later may work."""

    code = grpc.StatusCode.UNAVAILABLE
    reason = "unavailable"


class Unimplemented(DomainError):
    """An RPC the contract keeps for compatibility but this service no longer serves; the message names
    the one to call instead."""

    code = grpc.StatusCode.UNIMPLEMENTED
    reason = "unimplemented"
