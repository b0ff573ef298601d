"""Chinese first: the templates' messages are written in zh-CN, and one Babel/gettext catalogue
(locale/en/LC_MESSAGES/messages.po, compiled in memory at start) gives them in English. Dates are shown in
Asia/Shanghai, money as ¥ with two decimals, whatever the language."""

from __future__ import annotations

import gettext
import io
import re
from contextvars import ContextVar
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from services.rules.reasons import reason_words

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "zh_CN"
LOCALES = {"zh_CN": "zh-CN", "en": "en"}  # gettext name → HTML lang
LOCALE_COOKIE = "counsel_lang"
TIMEZONE = ZoneInfo("Asia/Shanghai")

locale_var: ContextVar[str] = ContextVar("portal_locale", default=DEFAULT_LOCALE)
# Parsed once: parsing the locale for every date shown was a visible share of an order page's render time.
BABEL_LOCALES = {name: Locale.parse(name) for name in LOCALES}


def load_translations() -> dict[str, gettext.NullTranslations]:
    """Each locale's translations: zh-CN is the messages themselves, every other locale its catalogue."""
    translations: dict[str, gettext.NullTranslations] = {DEFAULT_LOCALE: gettext.NullTranslations()}
    for name in LOCALES:
        if name == DEFAULT_LOCALE:
            continue
        with (LOCALE_DIR / name / "LC_MESSAGES" / "messages.po").open("rb") as po:
            catalog = read_po(po, locale=name)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        translations[name] = gettext.GNUTranslations(compiled)
    return translations


def chosen_locale(requested: str | None) -> str:
    return requested if requested in LOCALES else DEFAULT_LOCALE


def money(value: dict[str, Any] | None) -> str:
    """`{"amount": 99900, "currency": "CNY"}` (fen) → ¥999.00."""
    if not value:
        return "—"
    return f"¥{Decimal(int(value['amount'])) / 100:,.2f}"


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def local_time(value: str | None) -> str:
    """An RFC 3339 time as Beijing time, `2026-12-06 16:30`."""
    moment = parse_time(value)
    if moment is None:
        return "—"
    return format_datetime(
        moment, "yyyy-MM-dd HH:mm", tzinfo=TIMEZONE, locale=BABEL_LOCALES[locale_var.get()]
    )


def reason(code: str) -> str:
    """A cancellation's or refund's reason in the page's language: the words notification's notices use
    (services/rules/reasons.py), so the page and the message say the same."""
    words = reason_words(code)
    return words.english if locale_var.get() == "en" else words.chinese


_PHONE = re.compile(r"(?:\+?86)?(1\d{10})")


def normalise_contact(value: str) -> tuple[str, str]:
    """What a person typed as a login → (channel, destination): a mainland mobile, with or without +86 and
    spaces or dashes, is ("sms", "13800138000"); anything else is taken as an e-mail."""
    compact = re.sub(r"[\s\-()]", "", value)
    match = _PHONE.fullmatch(compact)
    if match:
        return "sms", match.group(1)
    return "email", value.strip()
