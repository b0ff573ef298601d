"""Who may serve (§4.1.1, §4.1.2, §4.2.1), free of I/O: a firm's legal-entity details and cooperation
agreement, a lawyer's credentials and their verification, and what of these keeps a lawyer assignable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied
from services.runtime.tenancy import signed_in

OPERATOR_ROLE = "operator"
CHINA = timezone(timedelta(hours=8), "CST")

# GB 32100-2015: 18 characters over 31 symbols (no I, O, S, V, Z); characters 3-8 are the administrative
# division code, 9-17 the organisation code (GB 11714, itself ending in a check character), 18 the check
# character over the first 17 with weights 3^i mod 31.
_CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_CREDIT_SHAPE = re.compile(rf"[{_CREDIT_ALPHABET}]{{2}}[0-9]{{6}}[{_CREDIT_ALPHABET}]{{10}}")

# The Ministry of Justice's practising certificate number (律师执业证号) is 17 digits; that is what is checked.
# Its parts (the organisation's region, the year of first licence, the practice category, a sequence number)
# are not: numbers issued under earlier rules do not follow them, and only the Ministry's register (which
# has no public interface) can confirm a number — that is the verifier's check against the scan.
_CERTIFICATE_SHAPE = re.compile(r"[0-9]{17}")

MIN_YEARS_OF_PRACTICE = 2
# The operator is warned this long before a cooperation agreement ends.
AGREEMENT_WARNING_DAYS = 30
MAX_FILE_BYTES = 20 * 1024 * 1024
DECISIONS = ("verified", "rejected")


def credit_code_check_character(first17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters of a unified social credit code."""
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True))
    return _CREDIT_ALPHABET[(31 - total % 31) % 31]


def organisation_check_character(first8: str) -> str:
    """The GB 11714-1997 check character of an organisation code's first 8 characters."""
    total = sum(_CREDIT_ALPHABET.index(c) * w for c, w in zip(first8, _ORGANISATION_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def validate_credit_code(code: str) -> str:
    """The unified social credit code, upper-cased; InvalidArgument naming `credit_code` unless its shape,
    its organisation code's check character and its own check character are right."""
    code = code.strip().upper()
    if not _CREDIT_SHAPE.fullmatch(code):
        raise InvalidArgument.for_field(
            "credit_code",
            "must be 18 characters of the GB 32100-2015 alphabet (digits and letters but I O S V Z)",
        )
    organisation = code[8:17]
    if organisation_check_character(organisation[:8]) != organisation[8]:
        raise InvalidArgument.for_field("credit_code", "the organisation code's check character is wrong")
    if credit_code_check_character(code[:17]) != code[17]:
        raise InvalidArgument.for_field("credit_code", "the check character is wrong (GB 32100-2015)")
    return code


# No firm registers more: China's largest registered capitals are under ¥1 万亿, a tenth of this (in fen).
MAX_REGISTERED_CAPITAL_FEN = 10**15


@dataclass(frozen=True)
class FirmRegistration:
    name: str
    credit_code: str
    registered_capital_fen: int
    address: str
    city: str
    lat: float
    lng: float


def validate_registration(
    name: str,
    credit_code: str,
    capital_fen: int,
    currency: str,
    address: str,
    city: str,
    lat: float,
    lng: float,
) -> FirmRegistration:
    """A firm being onboarded; InvalidArgument naming the first bad field."""
    name, address, city = name.strip(), address.strip(), city.strip()
    if not name or len(name) > 100:
        raise InvalidArgument.for_field("name", "is required, at most 100 characters")
    code = validate_credit_code(credit_code)
    if not 0 < capital_fen <= MAX_REGISTERED_CAPITAL_FEN or currency not in ("", "CNY"):
        raise InvalidArgument.for_field(
            "registered_capital", "must be a positive amount in CNY, at most ¥10 万亿 (10^15 fen)"
        )
    if not address or len(address) > 200:
        raise InvalidArgument.for_field("address", "is required, at most 200 characters")
    if len(city) > 50:
        raise InvalidArgument.for_field("city", "must be at most 50 characters")
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidArgument.for_field("location", "must be a latitude and longitude")
    return FirmRegistration(name, code, capital_fen, address, city, lat, lng)


def validate_agreement(starts_on: str, ends_on: str, content: bytes) -> tuple[date, date]:
    """The agreement's term; InvalidArgument naming the field (dates are ISO 8601, the end after the start)."""
    if not content or len(content) > MAX_FILE_BYTES:
        raise InvalidArgument.for_field("file", f"must be a non-empty file of at most {MAX_FILE_BYTES} bytes")
    start = _date("starts_on", starts_on)
    end = _date("ends_on", ends_on)
    if end <= start:
        raise InvalidArgument.for_field("ends_on", "must be after starts_on")
    return start, end


def _date(field: str, value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidArgument.for_field(field, "must be a date (YYYY-MM-DD)") from None


def validate_certificate_number(number: str) -> str:
    """The practising certificate number; InvalidArgument naming `certificate_number` (see _CERTIFICATE_SHAPE)."""
    number = number.strip()
    if not _CERTIFICATE_SHAPE.fullmatch(number):
        raise InvalidArgument.for_field(
            "certificate_number", "must be the 17-digit practising certificate number"
        )
    return number


@dataclass(frozen=True)
class Credentials:
    certificate_number: str
    inspection_due_on: date
    practice_certificate: bytes
    degree_certificate: bytes


def validate_credentials(
    certificate_number: str, inspection_due_on: str, practice: bytes, degree: bytes, years: int, today: date
) -> Credentials:
    """A lawyer's credentials as submitted; InvalidArgument naming the first bad field."""
    number = validate_certificate_number(certificate_number)
    due = _date("inspection_due_on", inspection_due_on)
    if due < today:
        raise InvalidArgument.for_field("inspection_due_on", "is past: renew the annual inspection first")
    for field, content in (("practice_certificate", practice), ("degree_certificate", degree)):
        if not content or len(content) > MAX_FILE_BYTES:
            raise InvalidArgument.for_field(
                field, f"must be a non-empty scan of at most {MAX_FILE_BYTES} bytes"
            )
    if years < MIN_YEARS_OF_PRACTICE:
        raise InvalidArgument.for_field(
            "years_of_practice", f"must be at least {MIN_YEARS_OF_PRACTICE} (§4.2.1)"
        )
    return Credentials(number, due, practice, degree)


def validate_decision(decision: str, notes: str) -> tuple[str, str]:
    if decision not in DECISIONS:
        raise InvalidArgument.for_field("decision", f"must be one of {', '.join(DECISIONS)}")
    if len(notes) > 2000:
        raise InvalidArgument.for_field("notes", "must be at most 2000 characters")
    return decision, notes.strip()


def require_operator(principal: Principal | None, action: str) -> Principal:
    principal = signed_in(principal, action)
    if not principal.has_role(OPERATOR_ROLE):
        raise PermissionDenied(f"only the platform operator may {action}")
    return principal


def today_in_china(now: datetime) -> date:
    """The calendar day in China (agreement and inspection dates are Beijing dates)."""
    return now.astimezone(CHINA).date()


def day_ends(day: date) -> datetime:
    """The instant a Beijing calendar day ends (when an agreement or inspection ending that day lapses)."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=CHINA)


def takes_work_until(agreement_ends_on: date | None, grace_ends_on: date | None) -> date | None:
    """The last day a firm's lawyers take new work: its agreement's end or, for a firm that joined before
    agreements were recorded and has none on record, its grace period's end (catalog migration 0011)."""
    return agreement_ends_on if agreement_ends_on is not None else grace_ends_on


def agreement_in_force(ends_on: date | None, today: date) -> bool:
    """A firm takes new work while its agreement runs (to its end date inclusive)."""
    return ends_on is not None and today <= ends_on


def inspection_current(due_on: date | None, today: date) -> bool:
    """A lawyer whose annual inspection date has passed takes no new work until renewed."""
    return due_on is None or today <= due_on


def why_not_assignable(
    active: bool,
    verification: str,
    agreement_ends_on: date | None,
    inspection_due_on: date | None,
    today: date,
) -> str:
    """Why the lawyer may not take new work now, or "" when they may."""
    if not active:
        return "the lawyer is not active"
    if verification != "verified":
        return "the lawyer's credentials are not verified"
    if not agreement_in_force(agreement_ends_on, today):
        return "the lawyer's firm's cooperation agreement has expired"
    if not inspection_current(inspection_due_on, today):
        return "the lawyer's practising certificate is overdue for its annual inspection"
    return ""


def check_assignable(
    active: bool,
    verification: str,
    agreement_ends_on: date | None,
    inspection_due_on: date | None,
    today: date,
) -> None:
    """Conflict (409) with the reason when the lawyer may not take new work now."""
    reason = why_not_assignable(active, verification, agreement_ends_on, inspection_due_on, today)
    if reason:
        raise Conflict(reason, reason="not_assignable")
