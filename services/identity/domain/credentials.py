"""How people prove who they are, free of I/O (R-ACC-2, R-PRIV-2): login requests, passwords, one-time
codes, membership-card PINs, sessions' refresh tokens, and the limits and lockouts on trying."""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.identity.domain.identifiers import (
    AVAILABLE_LOGIN_METHODS,
    INVALID_CREDENTIALS,
    LOGIN_METHODS,
    MAX_SECRET,
    MIN_PASSWORD,
    OTP_CHANNELS,
    normalize_card_number,
    normalize_email,
    normalize_phone,
    parse_identifier,
    validate_code,
    validate_pin,
)
from services.runtime.context import FIRM_SERVICE_ROLE, Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, RateLimited, Unauthenticated

# --- login requests and who may sign in -----------------------------------------------------------------


@dataclass(frozen=True)
class LoginAttempt:
    method: str
    identifier_kind: str  # "email" | "phone"
    identifier: str  # canonical form
    secret: str


def validate_login(method: str, identifier: str, secret: str) -> LoginAttempt:
    """A well-formed login request, or InvalidArgument naming the first bad field. `identifier` is a
    phone or an e-mail for password and otp, a card number for membership_card (kind "card")."""
    if method not in LOGIN_METHODS:
        raise InvalidArgument.for_field("method", f"must be one of {', '.join(LOGIN_METHODS)}")
    if method not in AVAILABLE_LOGIN_METHODS:
        raise InvalidArgument.for_field("method", f"{method} login is not available yet")
    if method == "membership_card":
        kind, canonical = "card", normalize_card_number(identifier, "identifier")
    else:
        kind, canonical = parse_identifier(identifier)
    if method == "otp":
        secret = validate_code(secret, "secret")
    if not secret:
        raise InvalidArgument.for_field("secret", "must not be empty")
    if len(secret) > MAX_SECRET:
        raise InvalidArgument.for_field("secret", f"must be at most {MAX_SECRET} characters")
    return LoginAttempt(method, kind, canonical, secret)


def signs_in(status: str | None) -> bool:
    """Whether an account in `status` (None: there is none) may sign in with a password or a card: only an
    active one. Every refusal looks the same to the caller (INVALID_CREDENTIALS, R-ACC-2)."""
    return status == "active"


class CodeSignIn(StrEnum):
    """What a proven one-time code does for the account of its phone or e-mail."""

    REFUSED = "refused"  # no account, or a disabled one
    SIGN_IN = "sign_in"
    ACTIVATE = "activate"  # an invited account: the code proves the invitee holds the phone or e-mail


def code_sign_in(status: str | None) -> CodeSignIn:
    if status is None or status == "disabled":
        return CodeSignIn.REFUSED
    return CodeSignIn.ACTIVATE if status == "invited" else CodeSignIn.SIGN_IN


def card_signs_in(card_status: str, holder_id: str | None) -> bool:
    """Whether a membership card logs anyone in: an active card linked to an account (R-ACC-2)."""
    return card_status == "active" and bool(holder_id)


class RefreshOutcome(StrEnum):
    INVALID = "invalid"  # unknown, revoked or expired
    REUSED = "reused"  # presented before: the pair was stolen or replayed, its family is revoked
    ROTATE = "rotate"  # spent now for a new pair of the same family


def refresh_outcome(
    revoked_at: datetime | None, expires_at: datetime, used_at: datetime | None, now: datetime
) -> RefreshOutcome:
    """What presenting a known refresh token does."""
    if revoked_at is not None or expires_at <= now:
        return RefreshOutcome.INVALID
    return RefreshOutcome.REUSED if used_at is not None else RefreshOutcome.ROTATE


def oidc_state_usable(
    expected_provider: str, provider: str, consumed_at: datetime | None, expires_at: datetime, now: datetime
) -> bool:
    """Whether a stored sign-in state may finish a callback from `provider`: the provider it was started
    for, once, before it expires (CSRF and replay protection)."""
    return provider == expected_provider and consumed_at is None and expires_at > now


# --- passwords ------------------------------------------------------------------------------------------


def validate_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument.for_field("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password) > MAX_SECRET:
        raise InvalidArgument.for_field("password", f"must be at most {MAX_SECRET} characters")
    return password


# The most common passwords that still pass the length and character-class rules.
_COMMON_PASSWORDS = frozenset(
    {
        "password1!",
        "passw0rd!",
        "password123!",
        "p@ssw0rd",
        "p@ssword1",
        "qwerty123!",
        "admin@123",
        "abc@12345",
        "welcome1!",
        "iloveyou1!",
        "1qaz@wsx",
        "1qaz!qaz",
        "zaq1@wsx",
        "aa123456!",
    }
)
PASSPHRASE_LENGTH = 16


def check_password_strength(password: str, *personal: str) -> str:
    """A new password a user chose (registration, change): at least MIN_PASSWORD characters and three of
    lower case, upper case, digits and symbols — or a passphrase of PASSPHRASE_LENGTH characters or more —
    not a well-known password and not containing the user's phone, e-mail name or display name.
    InvalidArgument naming "password" otherwise."""
    validate_new_password(password)
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if len(password) < PASSPHRASE_LENGTH and classes < 3:
        raise InvalidArgument.for_field(
            "password",
            f"is too weak: use {PASSPHRASE_LENGTH}+ characters, or mix three of lower case, upper case, "
            "digits and symbols",
        )
    lowered = password.lower()
    if lowered in _COMMON_PASSWORDS:
        raise InvalidArgument.for_field("password", "is a well-known password")
    for value in personal:
        token = value.lower().split("@")[0].removeprefix("+86").strip()
        if len(token) >= 4 and token in lowered:
            raise InvalidArgument.for_field("password", "must not contain your phone, e-mail or name")
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

    def rehash_if_needed(self, stored_hash: str, password: str) -> str | None:
        """A hash of the verified `password` with today's parameters; None when `stored_hash` has them."""
        return self.hash(password) if self.needs_rehash(stored_hash) else None


# --- one-time codes, rate limits and lockout ------------------------------------------------------------

OTP_DIGITS = 6
# How long a browser may take between starting an OpenID Connect login and the provider's callback.
OIDC_STATE_TTL = timedelta(minutes=10)
OTP_TTL = timedelta(minutes=5)
# Wrong guesses a code survives; then it is dead and a new one must be requested.
OTP_MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Limit:
    """At most `count` events per `window`."""

    count: int
    window: timedelta


@dataclass(frozen=True)
class AuthPolicy:
    """Limits on sending codes and on failed logins. The defaults are the product's; tests narrow them."""

    otp_per_destination: Limit = Limit(5, timedelta(hours=1))
    otp_per_ip: Limit = Limit(30, timedelta(hours=1))
    # Failed logins (any method) per identifier before it is locked for the rest of the window.
    failures_per_identifier: Limit = Limit(5, timedelta(minutes=15))
    # Failed logins from one IP address across identifiers (credential stuffing).
    failures_per_ip: Limit = Limit(50, timedelta(minutes=15))


def new_otp() -> str:
    """A uniformly random 6-digit code (leading zeros kept)."""
    return f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"


def validate_otp_request(channel: str, destination: str) -> tuple[str, str]:
    """(kind, canonical destination) for `POST /auth/otp`: sms → a phone, email → an address."""
    if channel not in OTP_CHANNELS:
        raise InvalidArgument.for_field("channel", f"must be one of {', '.join(OTP_CHANNELS)}")
    kind = OTP_CHANNELS[channel]
    if kind == "phone":
        return kind, normalize_phone(destination, "destination")
    return kind, normalize_email(destination, "destination")


@dataclass(frozen=True)
class OtpCandidate:
    """A live code of the destination: its stored hash, and the presented code hashed as it would be."""

    id: str
    stored_hash: str
    presented_hash: str


@dataclass(frozen=True)
class OtpCheck:
    """The code a presented code spends, or — none matching — the live codes the wrong guess counts
    against (each dies after OTP_MAX_ATTEMPTS)."""

    spent: str | None
    missed: tuple[str, ...] = ()


def check_otp(live: Sequence[OtpCandidate]) -> OtpCheck:
    """Compare a presented code with every live code of its destination, in constant time."""
    for code in live:
        if hmac.compare_digest(code.stored_hash, code.presented_hash):
            return OtpCheck(code.id)
    return OtpCheck(None, tuple(code.id for code in live))


def check_limit(limit: Limit, hits: Sequence[datetime], now: datetime, what: str) -> None:
    """RateLimited with the seconds until the oldest hit in the window leaves it, when `hits` (times
    inside the window) already reach the limit."""
    recent = sorted(hit for hit in hits if hit > now - limit.window)
    if len(recent) < limit.count:
        return
    oldest_that_must_expire = recent[len(recent) - limit.count]
    wait = (oldest_that_must_expire + limit.window - now).total_seconds()
    raise RateLimited(f"too many {what}; try again later", retry_after_seconds=max(1, math.ceil(wait)))


def check_not_locked(
    policy: AuthPolicy, identifier_hits: Sequence[datetime], ip_hits: Sequence[datetime], now: datetime
) -> None:
    """RateLimited while an identifier is locked after repeated failures, or while the client's IP address
    has failed too often across identifiers (credential stuffing)."""
    check_limit(policy.failures_per_identifier, identifier_hits, now, "failed attempts")
    check_limit(policy.failures_per_ip, ip_hits, now, "failed attempts")


# --- membership cards ---------------------------------------------------------------------------------


def card_firm_of(principal: Principal | None) -> str:
    """The law firm whose membership cards the caller issues, lists and revokes: a firm_admin's own firm, or
    the firm whose system calls with its service credentials. Nobody else — not another role, not a caller
    without a token — manages cards (R-ACC-2, R-OPS-3)."""
    if principal is None or not principal.has_role("firm_admin", FIRM_SERVICE_ROLE):
        raise PermissionDenied(
            "only a firm administrator issues, lists and revokes its firm's membership cards"
        )
    if not principal.firm_id:
        raise PermissionDenied("your account belongs to no law firm")
    return principal.firm_id


# The PIN a holder gets when linking a card without choosing one (the issued PIN stops working then).
GENERATED_PIN_DIGITS = 6


def new_card_pin() -> str:
    """A uniformly random PIN of GENERATED_PIN_DIGITS digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**GENERATED_PIN_DIGITS):0{GENERATED_PIN_DIGITS}d}"


@dataclass(frozen=True)
class HolderPin:
    """The PIN a card gets when its holder links it, and whether it was generated (shown to them once)."""

    pin: str
    generated: bool


def holder_pin(issued_pin: str, new_pin: str) -> HolderPin:
    """The PIN a card gets when its holder links it. The issuing firm saw the issued PIN,
    so it never stays the card's PIN: the holder's own `new_pin` (4 to 8 digits, not the issued one), or a
    generated one that only the holder is shown. InvalidArgument naming `new_pin` otherwise."""
    if not new_pin:
        generated = new_card_pin()
        while generated == issued_pin:
            generated = new_card_pin()
        return HolderPin(generated, True)
    validate_pin(new_pin, "new_pin")
    if new_pin == issued_pin:
        raise InvalidArgument.for_field("new_pin", "must differ from the PIN you were handed with the card")
    return HolderPin(new_pin, False)


class CardLink(StrEnum):
    LINK = "link"
    LINKED_ALREADY = "linked_already"  # to the caller: nothing to change


def card_link(status: str, holder_id: str | None, caller_id: str) -> CardLink:
    """Whether the caller, who proved the card's PIN, links it. Conflict for a revoked card
    (`card_revoked`) or one linked to another account (`card_linked`)."""
    if status != "active":
        raise Conflict("this membership card was revoked", reason="card_revoked")
    if holder_id and holder_id != caller_id:
        raise card_linked_elsewhere()
    return CardLink.LINKED_ALREADY if holder_id else CardLink.LINK


def card_linked_elsewhere() -> Conflict:
    return Conflict("this membership card is linked to another account", reason="card_linked")


def wrong_card_pin(card_known: bool) -> InvalidArgument:
    """The refusal of a PIN that did not verify, naming what was wrong: the card number or its PIN."""
    if not card_known:
        return InvalidArgument.for_field("card_number", "is not a membership card we know")
    return InvalidArgument.for_field("pin", "does not match this card")
