"""Identity rules, free of I/O: identifiers, roles, login validation, password hashing, who sees whom."""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.runtime.context import FIRM_SERVICE_ROLE, Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied, RateLimited, Unauthenticated

CLIENT_ROLES = ("client", "client_admin")
STAFF_ROLES = ("lawyer", "reviewer", "agent", "editor", "firm_admin", "supervisor")
ROLES = CLIENT_ROLES + STAFF_ROLES
STAFF_WHO_SEE_ALL = ("agent", "supervisor")

LOGIN_METHODS = ("password", "otp", "membership_card")
AVAILABLE_LOGIN_METHODS = LOGIN_METHODS
# "invited": created by a client_admin's invitation; becomes active once the person proves the phone or
# e-mail with a one-time code (registration or OTP login).
USER_STATUSES = ("active", "disabled", "invited", "erased")
ERASED_DISPLAY_NAME = "已注销用户"
OTP_CHANNELS = {"sms": "phone", "email": "email"}
INVITABLE_ROLES = CLIENT_ROLES
CARD_STATUSES = ("active", "revoked")

MAX_EMAIL = 254
MAX_DISPLAY_NAME = 100
MIN_PASSWORD = 8
# argon2 pre-hashes any length, but an unbounded secret is still a free CPU and memory sink.
MAX_SECRET = 1024
INVALID_CREDENTIALS = "invalid credentials"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_OTP = re.compile(r"^\d{6}$")
_CARD_NUMBER = re.compile(r"^[A-Z0-9]{6,32}$")
_CARD_SEPARATORS = re.compile(r"[\s\-]")
_PIN = re.compile(r"^\d{4,8}$")
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
    if method == "otp" and not _OTP.match(secret.strip()):
        raise InvalidArgument.for_field("secret", "must be the 6-digit code")
    if method == "otp":
        secret = secret.strip()
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


def otp_message(code: str) -> tuple[str, str]:
    """(e-mail subject, text) of the message carrying a one-time code."""
    minutes = int(OTP_TTL.total_seconds() // 60)
    return (
        "Your counsel verification code",
        f"【counsel】验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。"
        f" Your counsel code is {code}; it expires in {minutes} minutes. Never share it.",
    )


# How an invitation names the role it offers (zh, en): fixed words, never the inviter's.
ROLE_LABELS = {"client": ("成员", "member"), "client_admin": ("管理员", "administrator")}
# Shown instead of an enterprise's name that is not a plain name (one registered before names were checked).
UNNAMED_ENTERPRISE = ("一家企业", "An enterprise")


@dataclass(frozen=True)
class InvitationMessage:
    subject: str
    body: str
    # The variables of the SMS provider's approved "invitation" template.
    params: dict[str, str]


def invitation_message(enterprise_name: str, role: str) -> InvitationMessage:
    """The invitation's e-mail/SMS text: fixed words around the enterprise's registered name and the
    offered role, and nothing else — no text the inviter typed for the occasion, no link (R-PRIV-2).
    A registered name that is not a plain name (`enterprise_name_problem`) is replaced by a neutral one."""
    name = enterprise_name.strip()
    zh_name, en_name = (name, name) if name and not enterprise_name_problem(name) else UNNAMED_ENTERPRISE
    zh_role, en_role = ROLE_LABELS[role]
    return InvitationMessage(
        "You are invited to counsel",
        f"【counsel】{zh_name} 邀请您以{zh_role}身份加入 counsel。请用本手机号或邮箱获取验证码后注册或登录。"
        f" {en_name} invited you to counsel as {en_role}: register or log in with a code sent here.",
        {"enterprise": zh_name, "role": zh_role},
    )


_ENTERPRISE_NAME_PUNCTUATION = frozenset(" ()（）·&,，、.-'")
_DIGIT_RUN = re.compile(r"\d{5,}")
_ADDRESS_LIKE = re.compile(r"\.[^\W\d_]")


def enterprise_name_problem(name: str) -> str:
    """Why `name` is not a plain enterprise name, or "" when it is. An enterprise's name goes out in every
    invitation its admin sends, so it may hold letters, digits, spaces and ()（）·&,，、.-' only — no
    web or e-mail address (a dot before a letter), no phone number or code (5 digits in a row)."""
    if any(not (c.isalpha() or c.isdigit() or c in _ENTERPRISE_NAME_PUNCTUATION) for c in name):
        return "may hold only letters, digits, spaces and ()（）·&,，、.-'"
    if _DIGIT_RUN.search(name):
        return "must not hold a phone number or a code (5 or more digits in a row)"
    if _ADDRESS_LIKE.search(name):
        return "must not hold a web or e-mail address"
    return ""


def validate_code(code: str, field: str = "code") -> str:
    code = code.strip()
    if not _OTP.match(code):
        raise InvalidArgument.for_field(field, "must be the 6-digit code")
    return code


def check_limit(limit: Limit, hits: Sequence[datetime], now: datetime, what: str) -> None:
    """RateLimited with the seconds until the oldest hit in the window leaves it, when `hits` (times
    inside the window) already reach the limit."""
    recent = sorted(hit for hit in hits if hit > now - limit.window)
    if len(recent) < limit.count:
        return
    oldest_that_must_expire = recent[len(recent) - limit.count]
    wait = (oldest_that_must_expire + limit.window - now).total_seconds()
    raise RateLimited(f"too many {what}; try again later", retry_after_seconds=max(1, math.ceil(wait)))


@dataclass(frozen=True)
class Registration:
    kind: str  # "phone" | "email"
    identifier: str  # canonical
    code: str
    password: str  # "" when none was chosen
    display_name: str
    enterprise_name: str


def validate_registration(
    phone: str, email: str, code: str, password: str, display_name: str, enterprise_name: str
) -> Registration:
    """A well-formed registration: exactly one of phone and e-mail (the one the code was sent to), the
    6-digit code, an optional strong password, a display name and an optional enterprise name."""
    if phone.strip() and email.strip():
        raise InvalidArgument.for_field("email", "give either a phone or an e-mail address, not both")
    if phone.strip():
        kind, identifier = "phone", normalize_phone(phone)
    elif email.strip():
        kind, identifier = "email", normalize_email(email)
    else:
        raise InvalidArgument.for_field("phone", "a phone number or an e-mail address is required")
    checked_code = validate_code(code)
    name = display_name.strip()
    if not name:
        raise InvalidArgument.for_field("display_name", "must not be empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidArgument.for_field("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")
    if password:
        check_password_strength(password, identifier, name)
    enterprise = " ".join(enterprise_name.split())
    if len(enterprise) > MAX_DISPLAY_NAME * 2:
        raise InvalidArgument.for_field(
            "enterprise_name", f"must be at most {MAX_DISPLAY_NAME * 2} characters"
        )
    if enterprise and (problem := enterprise_name_problem(enterprise)):
        raise InvalidArgument.for_field("enterprise_name", problem)
    return Registration(kind, identifier, checked_code, password, name, enterprise)


def registration_roles(enterprise_name: str) -> tuple[str, ...]:
    """Who registers an enterprise administers it; an individual is a client of their own tenant."""
    return ("client_admin",) if enterprise_name else ("client",)


def _same_enterprise_name(a: str, b: str) -> bool:
    return "".join(a.split()).casefold() == "".join(b.split()).casefold()


def check_invited_registration(requested_enterprise: str, inviting_enterprise: str) -> None:
    """The rule when an invited phone or e-mail registers (R-ACC-4): the invitation wins unless the registrant
    asks for a different new enterprise. No `enterprise_name`, or the inviting enterprise's own name (ignoring
    spaces and case: what an employee types for their employer), joins the inviting enterprise with the
    invited role. Another name is a Conflict (409, reason `invitation_pending`) that names the inviting
    enterprise, rather than silently dropping the invitation or the requested enterprise; the registrant has
    proven the phone or e-mail with a code by then, so the invitation is theirs to see."""
    if requested_enterprise and not _same_enterprise_name(requested_enterprise, inviting_enterprise):
        raise Conflict(
            f"this phone or e-mail has a pending invitation to join {inviting_enterprise}: register without "
            "enterprise_name to accept it (request a new code), or ask its administrator about the invitation",
            reason="invitation_pending",
        )


def validate_display_name(display_name: str) -> str:
    name = display_name.strip()
    if not name:
        raise InvalidArgument.for_field("display_name", "must not be empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidArgument.for_field("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")
    return name


# --- membership cards ---------------------------------------------------------------------------------


def normalize_card_number(value: str, field: str = "card_number") -> str:
    """Upper-case card number without spaces or dashes: 6 to 32 letters and digits."""
    number = _CARD_SEPARATORS.sub("", value.strip()).upper()
    if not _CARD_NUMBER.match(number):
        raise InvalidArgument.for_field(field, "must be 6 to 32 letters and digits")
    return number


def validate_pin(pin: str, field: str = "pin") -> str:
    if not _PIN.match(pin):
        raise InvalidArgument.for_field(field, "must be 4 to 8 digits")
    return pin


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


def holder_pin(issued_pin: str, new_pin: str) -> tuple[str, bool]:
    """The PIN a card gets when its holder links it: (pin, generated). The issuing firm saw the issued PIN,
    so it never stays the card's PIN: the holder's own `new_pin` (4 to 8 digits, not the issued one), or a
    generated one that only the holder is shown. InvalidArgument naming `new_pin` otherwise."""
    if not new_pin:
        generated = new_card_pin()
        while generated == issued_pin:
            generated = new_card_pin()
        return generated, True
    validate_pin(new_pin, "new_pin")
    if new_pin == issued_pin:
        raise InvalidArgument.for_field("new_pin", "must differ from the PIN you were handed with the card")
    return new_pin, False


# --- enterprise members -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    kind: str  # "phone" | "email"
    identifier: str
    role: str


INVITATION_WINDOW = timedelta(days=1)


def invitation_limit(per_day: int) -> Limit:
    """The invitations one enterprise may send per rolling day (`COUNSEL_INVITATIONS_PER_ENTERPRISE_PER_DAY`)."""
    return Limit(per_day, INVITATION_WINDOW)


def validate_invitation(phone: str, email: str, role: str) -> Invitation:
    if phone.strip() and email.strip():
        raise InvalidArgument.for_field("email", "give either a phone or an e-mail address, not both")
    if phone.strip():
        kind, identifier = "phone", normalize_phone(phone)
    elif email.strip():
        kind, identifier = "email", normalize_email(email)
    else:
        raise InvalidArgument.for_field("phone", "a phone number or an e-mail address is required")
    if role not in INVITABLE_ROLES:
        raise InvalidArgument.for_field("role", f"must be one of {', '.join(INVITABLE_ROLES)}")
    return Invitation(kind, identifier, role)


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


# How many members a group lookup returns at most (groups are teams, not populations).
MAX_GROUP = 500


def validate_group_lookup(principal: Principal | None, role: str, tenant_id: str) -> tuple[str, str]:
    """(role, tenant_id) of a group lookup: internal callers (notification) and supervisors only; an
    enterprise role needs its tenant, a staff role is looked up among staff (tenant "")."""
    if principal is not None and not principal.has_role("supervisor"):
        raise PermissionDenied("only services and supervisors list users by role")
    if role not in ROLES:
        raise InvalidArgument.for_field("role", f"must be one of {', '.join(ROLES)}")
    if role in CLIENT_ROLES and not tenant_id:
        raise InvalidArgument.for_field("tenant_id", "is required for an enterprise role")
    return role, tenant_id if role in CLIENT_ROLES else ""


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


# --- activity linkage (§6.1.1.2) ------------------------------------------------------------------------

# The service behind each event entity (event types are "<entity>.<past_tense>").
_SOURCE_OF_ENTITY = {
    "order": "payment",
    "payment": "payment",
    "refund": "payment",
    "product": "catalog",
    "article": "catalog",
    "review": "catalog",
    "booking": "booking",
    "visit": "booking",
    "consultation": "consultation",
    "docorder": "documents",
}
# Actors that are not people.
_NON_USER_ACTORS = ("", "system")


@dataclass(frozen=True)
class ActivityFact:
    user_id: str
    kind: str
    source: str
    subject_id: str


def activity_of_event(event_type: str, actor_id: str, aggregate_id: str) -> ActivityFact | None:
    """What an event of another service says about the person who caused it, or None when no person did
    (R-ACC-3: browsing, purchases, bookings and visits are linked to the account)."""
    if actor_id in _NON_USER_ACTORS or not event_type:
        return None
    entity = event_type.split(".", 1)[0]
    if entity == "user":  # identity's own events: logins are recorded directly
        return None
    return ActivityFact(actor_id, event_type, _SOURCE_OF_ENTITY.get(entity, entity), aggregate_id)


def validate_member_role(role: str) -> str:
    """A role a client_admin may give a member of their enterprise."""
    if role not in INVITABLE_ROLES:
        raise InvalidArgument.for_field("role", f"must be one of {', '.join(INVITABLE_ROLES)}")
    return role


@dataclass(frozen=True)
class ProfileChange:
    display_name: str  # "" = unchanged
    identifier_kind: str  # "phone" | "email" | "" (none to link)
    identifier: str
    code: str
    password: str  # "" = unchanged
    current_password: str


def validate_profile_change(
    display_name: str, phone: str, email: str, code: str, password: str, current_password: str
) -> ProfileChange:
    """PATCH /me: a new name, one phone or e-mail to link (with its code), and/or a new password."""
    name = validate_display_name(display_name) if display_name else ""
    if phone.strip() and email.strip():
        raise InvalidArgument.for_field("email", "link either a phone or an e-mail address at a time")
    kind, identifier = "", ""
    if phone.strip():
        kind, identifier = "phone", normalize_phone(phone)
    elif email.strip():
        kind, identifier = "email", normalize_email(email)
    checked_code = validate_code(code) if kind else ""
    if password:
        check_password_strength(password, identifier, name)
    if len(current_password) > MAX_SECRET:
        raise InvalidArgument.for_field("current_password", f"must be at most {MAX_SECRET} characters")
    return ProfileChange(name, kind, identifier, checked_code, password, current_password)


# --- firms' systems (service credentials) ---------------------------------------------------------------

MAX_SERVICE_CLIENT_NAME = 100


def validate_service_client_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidArgument.for_field("name", "must not be empty")
    if len(name) > MAX_SERVICE_CLIENT_NAME:
        raise InvalidArgument.for_field("name", f"must be at most {MAX_SERVICE_CLIENT_NAME} characters")
    return name


def firm_of_admin(principal: Principal | None) -> str:
    """The firm whose service credentials the caller may manage: a firm_admin's own firm only."""
    if principal is None or not principal.has_role("firm_admin"):
        raise PermissionDenied("only a firm administrator manages the firm's service credentials")
    if not principal.firm_id:
        raise PermissionDenied("your account belongs to no law firm")
    return principal.firm_id
