"""Who a person is to identity, free of I/O: roles, account statuses, and the identifiers, codes and card
numbers people type, normalised (R-ACC-1, R-ACC-2)."""

from __future__ import annotations

import re

from services.runtime.errors import InvalidArgument

CLIENT_ROLES = ("client", "client_admin")
STAFF_ROLES = ("lawyer", "reviewer", "agent", "editor", "firm_admin", "supervisor", "operator")
ROLES = CLIENT_ROLES + STAFF_ROLES
STAFF_WHO_SEE_ALL = ("agent", "supervisor")

LOGIN_METHODS = ("password", "otp", "membership_card")
AVAILABLE_LOGIN_METHODS = LOGIN_METHODS
ERASED_DISPLAY_NAME = "已注销用户"
OTP_CHANNELS = {"sms": "phone", "email": "email"}
INVITABLE_ROLES = CLIENT_ROLES

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


def validate_code(code: str, field: str = "code") -> str:
    code = code.strip()
    if not _OTP.match(code):
        raise InvalidArgument.for_field(field, "must be the 6-digit code")
    return code


def validate_display_name(display_name: str) -> str:
    name = display_name.strip()
    if not name:
        raise InvalidArgument.for_field("display_name", "must not be empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidArgument.for_field("display_name", f"must be at most {MAX_DISPLAY_NAME} characters")
    return name


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
