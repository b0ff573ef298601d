"""Identity rules, free of I/O: identifiers, roles, login validation, password hashing, who sees whom."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.runtime.context import Principal
from services.runtime.errors import InvalidArgument, Unauthenticated

CLIENT_ROLES = ("client", "client_admin")
STAFF_ROLES = ("lawyer", "reviewer", "agent", "editor", "firm_admin", "supervisor")
ROLES = CLIENT_ROLES + STAFF_ROLES
STAFF_WHO_SEE_ALL = ("agent", "supervisor")

LOGIN_METHODS = ("password", "otp", "membership_card")
AVAILABLE_LOGIN_METHODS = ("password",)
USER_STATUSES = ("active", "disabled")

MAX_EMAIL = 254
MAX_DISPLAY_NAME = 100
MIN_PASSWORD = 8
# argon2 pre-hashes any length, but an unbounded secret is still a free CPU and memory sink.
MAX_SECRET = 1024
INVALID_CREDENTIALS = "invalid credentials"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MAINLAND_MOBILE = re.compile(r"^1\d{10}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-()]")


def normalize_email(value: str, field: str = "email") -> str:
    """Lower-cased, trimmed address; InvalidArgument naming `field` when it is not an e-mail address."""
    email = value.strip().lower()
    if not email or len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidArgument.for_field(field, "is not an e-mail address")
    return email


def normalize_phone(value: str, field: str = "phone") -> str:
    """A mainland mobile number (11 digits starting with 1, with or without +86) as `+86XXXXXXXXXXX`."""
    digits = _PHONE_SEPARATORS.sub("", value.strip())
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if not _MAINLAND_MOBILE.match(digits):
        raise InvalidArgument.for_field(field, "must be a mainland mobile number: 11 digits starting with 1")
    return f"+86{digits}"


def parse_identifier(value: str, field: str = "identifier") -> tuple[str, str]:
    """("email", address) or ("phone", +86 number) for a login identifier."""
    if not value.strip():
        raise InvalidArgument.for_field(field, "must not be empty")
    if "@" in value:
        return "email", normalize_email(value, field)
    return "phone", normalize_phone(value, field)


@dataclass(frozen=True)
class LoginAttempt:
    method: str
    identifier_kind: str  # "email" | "phone"
    identifier: str  # canonical form
    secret: str


def validate_login(method: str, identifier: str, secret: str) -> LoginAttempt:
    """A well-formed login request, or InvalidArgument naming the first bad field. Only password login
    exists so far; otp and membership_card are refused as not available yet."""
    if method not in LOGIN_METHODS:
        raise InvalidArgument.for_field("method", f"must be one of {', '.join(LOGIN_METHODS)}")
    if method not in AVAILABLE_LOGIN_METHODS:
        raise InvalidArgument.for_field("method", f"{method} login is not available yet")
    kind, canonical = parse_identifier(identifier)
    if not secret:
        raise InvalidArgument.for_field("secret", "must not be empty")
    if len(secret) > MAX_SECRET:
        raise InvalidArgument.for_field("secret", f"must be at most {MAX_SECRET} characters")
    return LoginAttempt(method, kind, canonical, secret)


@dataclass(frozen=True)
class NewUser:
    email: str
    phone: str
    display_name: str
    roles: tuple[str, ...]
    tenant_id: str


def validate_new_user(
    email: str, phone: str, display_name: str, roles: Sequence[str], tenant_id: str
) -> NewUser:
    """Normalised new account. Client roles need an enterprise; staff roles must have none (R-ACC-4)."""
    canonical_email = normalize_email(email) if email.strip() else ""
    canonical_phone = normalize_phone(phone) if phone.strip() else ""
    if not canonical_email and not canonical_phone:
        raise InvalidArgument.for_field("email", "an e-mail address or a phone number is required")
    name = display_name.strip()
    if not name:
        raise InvalidArgument.for_field("display_name", "must not be empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidArgument.for_field("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")
    unique_roles = tuple(dict.fromkeys(roles))
    if not unique_roles:
        raise InvalidArgument.for_field("roles", "must not be empty")
    unknown = [role for role in unique_roles if role not in ROLES]
    if unknown:
        raise InvalidArgument.for_field("roles", f"unknown role {unknown[0]!r}; one of {', '.join(ROLES)}")
    is_client = any(role in CLIENT_ROLES for role in unique_roles)
    if is_client and any(role in STAFF_ROLES for role in unique_roles):
        raise InvalidArgument.for_field("roles", "a user is either a client or staff, not both")
    if is_client and not tenant_id:
        raise InvalidArgument.for_field("tenant_id", "a client belongs to an enterprise")
    if not is_client and tenant_id:
        raise InvalidArgument.for_field("tenant_id", "staff belong to no enterprise")
    return NewUser(canonical_email, canonical_phone, name, unique_roles, tenant_id)


def validate_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument.for_field("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_SECRET:
        raise InvalidArgument.for_field("password", f"must be at most {MAX_SECRET} characters")
    return password


class Passwords:
    """argon2id with OWASP's minimum (19 MiB, t=2, p=1). CPU-bound: call from a worker thread in async code.

    Construction hashes one random secret so that `verify` for a missing user costs a real verification."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> None:
        """Raises Unauthenticated("invalid credentials") unless `password` matches `stored_hash`.

        Pass None when the identifier matched no usable account: a dummy hash is verified instead, so the
        reply neither says nor (by its timing) hints whether the identifier exists."""
        try:
            self._hasher.verify(stored_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError) as exc:
            raise Unauthenticated(INVALID_CREDENTIALS, reason="invalid_credentials") from exc
        if not stored_hash:
            raise Unauthenticated(INVALID_CREDENTIALS, reason="invalid_credentials")

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than today's (rehash on the next login)."""
        return self._hasher.check_needs_rehash(stored_hash)


def can_see_user(principal: Principal | None, user_id: str, tenant_id: str) -> bool:
    """R-ACC-4: a user sees themself, a client_admin the members of their enterprise, agents and
    supervisors everyone. Internal callers without a user token (other services, workflow activities)
    see everyone, as in every other service."""
    if principal is None:
        return True
    if principal.user_id == user_id:
        return True
    if principal.has_role("client_admin"):
        return bool(principal.tenant_id) and principal.tenant_id == tenant_id
    if principal.is_client:
        return False
    return principal.has_role(*STAFF_WHO_SEE_ALL)
