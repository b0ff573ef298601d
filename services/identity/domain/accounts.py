"""Accounts, enterprises and who sees whom, free of I/O (R-ACC-1, R-ACC-3, R-ACC-4): new users,
registration, invitations and members, the messages identity sends, activity linkage, profile changes and
firms' service credentials."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from services.identity.domain.credentials import OTP_TTL, Limit, check_password_strength
from services.identity.domain.identifiers import (
    CLIENT_ROLES,
    INVITABLE_ROLES,
    MAX_DISPLAY_NAME,
    MAX_SECRET,
    ROLES,
    STAFF_ROLES,
    STAFF_WHO_SEE_ALL,
    normalize_email,
    normalize_phone,
    validate_code,
    validate_display_name,
)
from services.runtime.context import Principal
from services.runtime.errors import AlreadyExists, Conflict, FieldViolation, InvalidArgument, PermissionDenied
from services.runtime.tenancy import signed_in
from services.runtime.vocabulary import Industry, words

INDUSTRIES = words(Industry)


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
    name = validate_display_name(display_name)
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


@dataclass(frozen=True)
class Message:
    """A message identity sends by e-mail or SMS: its subject, its text, and the variables of the SMS
    provider's approved template of the same name."""

    subject: str
    body: str
    params: dict[str, str]


def otp_message(code: str) -> Message:
    """The message carrying a one-time code."""
    minutes = int(OTP_TTL.total_seconds() // 60)
    return Message(
        "Your counsel verification code",
        f"【counsel】验证码 {code}，{minutes} 分钟内有效，请勿告诉他人。"
        f" Your counsel code is {code}; it expires in {minutes} minutes. Never share it.",
        {"code": code},
    )


# How an invitation names the role it offers (zh, en): fixed words, never the inviter's.
ROLE_LABELS = {
    "client": ("成员", "member"),
    "client_admin": ("管理员", "administrator"),
    "firm_admin": ("律所管理员", "law firm administrator"),
}
# Shown instead of an enterprise's name that is not a plain name (one registered before names were checked).
UNNAMED_ENTERPRISE = ("一家企业", "An enterprise")


def invitation_message(enterprise_name: str, role: str) -> Message:
    """The invitation's e-mail/SMS text: fixed words around the enterprise's registered name and the
    offered role, and nothing else — no text the inviter typed for the occasion, no link (R-PRIV-2).
    A registered name that is not a plain name (`enterprise_name_problem`) is replaced by a neutral one."""
    name = enterprise_name.strip()
    zh_name, en_name = (name, name) if name and not enterprise_name_problem(name) else UNNAMED_ENTERPRISE
    zh_role, en_role = ROLE_LABELS[role]
    return Message(
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


def _phone_or_email(phone: str, email: str) -> tuple[str, str]:
    """("phone", +86 number) or ("email", address): exactly one of them must be given."""
    if phone.strip() and email.strip():
        raise InvalidArgument.for_field("email", "give either a phone or an e-mail address, not both")
    if phone.strip():
        return "phone", normalize_phone(phone)
    if email.strip():
        return "email", normalize_email(email)
    raise InvalidArgument.for_field("phone", "a phone number or an e-mail address is required")


@dataclass(frozen=True)
class Registration:
    kind: str  # "phone" | "email"
    identifier: str  # canonical
    code: str
    password: str  # "" when none was chosen
    display_name: str
    enterprise_name: str
    privacy_policy_version: str  # the version of the privacy policy the person accepts by registering
    marketing_consent: bool  # optional consent to marketing messages (notification's preferences hold it)


def validate_registration(
    phone: str,
    email: str,
    code: str,
    password: str,
    display_name: str,
    enterprise_name: str,
    privacy_policy_version: str = "",
    marketing_consent: bool = False,
) -> Registration:
    """A well-formed registration: exactly one of phone and e-mail (the one the code was sent to), the
    6-digit code, an optional strong password, a display name and an optional enterprise name."""
    kind, identifier = _phone_or_email(phone, email)
    checked_code = validate_code(code)
    name = validate_display_name(display_name)
    if password:
        check_password_strength(password, identifier, name)
    enterprise = " ".join(enterprise_name.split())
    if len(enterprise) > MAX_DISPLAY_NAME * 2:
        raise InvalidArgument.for_field(
            "enterprise_name", f"must be at most {MAX_DISPLAY_NAME * 2} characters"
        )
    if enterprise and (problem := enterprise_name_problem(enterprise)):
        raise InvalidArgument.for_field("enterprise_name", problem)
    return Registration(
        kind, identifier, checked_code, password, name, enterprise, privacy_policy_version, marketing_consent
    )


def registration_roles(enterprise_name: str) -> tuple[str, ...]:
    """Who registers an enterprise administers it; an individual is a client of their own tenant."""
    return ("client_admin",) if enterprise_name else ("client",)


def check_registrable(existing_status: str | None) -> None:
    """A phone or e-mail registers when it has no account yet, or an invitation waiting (`invited`);
    AlreadyExists (`already_registered`) otherwise."""
    if existing_status is not None and existing_status != "invited":
        raise AlreadyExists(
            "this phone or e-mail already has an account; log in instead", reason="already_registered"
        )


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


def validate_firm_admin_invitation(principal: Principal | None, phone: str, email: str) -> Invitation:
    """The operator's invitation of a firm's admin (PermissionDenied for anyone else)."""
    if principal is None or not principal.has_role("operator"):
        raise PermissionDenied("only the platform operator invites a firm's admin")
    kind, identifier = _phone_or_email(phone, email)
    return Invitation(kind, identifier, "firm_admin")


def validate_invitation(phone: str, email: str, role: str) -> Invitation:
    kind, identifier = _phone_or_email(phone, email)
    if role not in INVITABLE_ROLES:
        raise InvalidArgument.for_field("role", f"must be one of {', '.join(INVITABLE_ROLES)}")
    return Invitation(kind, identifier, role)


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


def client_activity_of_event(
    event_type: str, client_id: str, actor_id: str, aggregate_id: str
) -> ActivityFact | None:
    """What an event someone else caused says about the client whose record it changed (the envelope's
    `client_id`: a lawyer checking in to the client's meeting or on-site visit), or None when it names no
    client or the client caused it themself (then `activity_of_event` links it already)."""
    if not client_id or client_id == actor_id or not event_type:
        return None
    entity = event_type.split(".", 1)[0]
    return ActivityFact(client_id, event_type, _SOURCE_OF_ENTITY.get(entity, entity), aggregate_id)


def client_admin_of(
    principal: Principal | None, action: str = "manage your enterprise", duty: str = "manages its members"
) -> Principal:
    """The caller, who must be the client_admin of an enterprise to `action` (R-ACC-4); PermissionDenied
    says that only the client_admin `duty`."""
    caller = signed_in(principal, action)
    if not caller.has_role("client_admin") or not caller.tenant_id:
        raise PermissionDenied(f"only the enterprise's client_admin {duty}")
    return caller


def check_role_change(caller_id: str, member_id: str, role: str) -> None:
    """An administrator cannot demote themself, so an enterprise always keeps one (Conflict `last_admin`)."""
    if member_id == caller_id and role != "client_admin":
        raise Conflict("you cannot remove your own administrator role", reason="last_admin")


def check_member_removal(caller_id: str, member_id: str) -> None:
    """An administrator cannot remove themself, so an enterprise always keeps one (Conflict `last_admin`)."""
    if member_id == caller_id:
        raise Conflict("you cannot remove yourself from your enterprise", reason="last_admin")


def require_staff_reading_enterprises(principal: Principal | None) -> None:
    """Lawyers, agents and supervisors (and the platform itself) look a client enterprise up by id."""
    if principal is not None and not principal.has_role("lawyer", "agent", "supervisor"):
        raise PermissionDenied("only staff look client enterprises up")


def staff_serving_clients(principal: Principal | None) -> Principal:
    """The caller, who must be an agent or a supervisor to see a client's activity (R-CS-2)."""
    caller = signed_in(principal, "see a client's activity")
    if not caller.has_role("agent", "supervisor"):
        raise PermissionDenied("only agents and supervisors see a client's activity")
    return caller


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


@dataclass(frozen=True)
class PrivacyPolicy:
    """The privacy policy in force: its version and where to read it (settings)."""

    version: str
    url: str


def check_policy_accepted_at_registration(given: str, policy: PrivacyPolicy) -> None:
    """Registering accepts the policy in force: InvalidArgument naming `privacy_policy_version` otherwise."""
    if given != policy.version:
        raise InvalidArgument.for_field(
            "privacy_policy_version",
            f"accept the privacy policy in force, version {policy.version} ({policy.url}), by sending its version",
        )


def consent_at_login(accepted: str | None, given: str, policy: PrivacyPolicy) -> bool:
    """Whether a login records an acceptance now (True: the person accepts the policy in force with this
    login). Conflict naming `privacy_policy_version` when the version they accepted last (None: never) is not
    the one in force and this login does not accept it — they log in again sending its version."""
    if accepted == policy.version:
        return False
    if given == policy.version:
        return True
    raise Conflict(
        f"accept the privacy policy in force first: read version {policy.version} at {policy.url} and log "
        "in again sending privacy_policy_version to accept it",
        reason="consent_required",
        violations=[
            FieldViolation("privacy_policy_version", f"accept version {policy.version} ({policy.url})")
        ],
    )


def validate_industry(industry: str) -> str:
    """An enterprise's industry: one of common.v1.Industry, or "" for none."""
    if industry and industry not in INDUSTRIES:
        raise InvalidArgument.for_field("industry", f"must be one of {', '.join(INDUSTRIES)}")
    return industry
