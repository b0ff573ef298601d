"""Catalog rules, free of I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.legal_fields import LEGAL_FIELDS
from services.runtime.context import Principal
from services.runtime.errors import Conflict, InvalidArgument, PermissionDenied
from services.runtime.tenancy import signed_in
from services.runtime.vocabulary import (
    ConsultationKind,
    DocumentComplexity,
    ProductCategory,
    RequirementFieldType,
    words,
)

CATEGORIES = words(ProductCategory)
COMPLEXITIES = words(DocumentComplexity)
MAX_QUERY = 100


def validate_listing(category: str, query: str) -> tuple[str, str]:
    if category and category not in CATEGORIES:
        raise InvalidArgument.for_field("category", f"must be one of {', '.join(CATEGORIES)}")
    query = query.strip()
    if len(query) > MAX_QUERY:
        raise InvalidArgument.for_field("q", f"must be at most {MAX_QUERY} characters")
    return category, query


def like_pattern(query: str) -> str:
    """A LIKE pattern matching `query` literally anywhere."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- products and tiers (R-INFO-1, §6.2.2.2-§6.2.2.4) ----------------------------------------------------

# A document tier's clocks follow from its complexity; the workflows receive them as input.
DOCUMENT_CLOCKS = {"simple": (24, 3), "standard": (48, 5), "complex": (72, 7)}
DOCUMENT_ACKNOWLEDGE_MINUTES = 30
CONSULTATION_REPLY_HOURS = 24


def validate_tiers(category: str, tiers: list[dict[str, Any]]) -> None:
    """Raises InvalidArgument naming `tiers[i].<field>` for a tier that breaks the rules: every tier has an
    id, a name and a non-negative price; a document tier has a complexity whose delivery_hours (24/48/72),
    revision_days (3/5/7) and 30-minute acknowledgement match it; a professional consultation tier promises
    its 24 h reply."""
    if category not in CATEGORIES:
        raise InvalidArgument.for_field("category", f"must be one of {', '.join(CATEGORIES)}")
    if not tiers:
        raise InvalidArgument.for_field("tiers", "a product needs at least one tier")
    seen: set[str] = set()
    for i, tier in enumerate(tiers):
        where = f"tiers[{i}]"
        if not str(tier.get("id", "")).strip():
            raise InvalidArgument.for_field(f"{where}.id", "is required")
        if tier["id"] in seen:
            raise InvalidArgument.for_field(f"{where}.id", "is used by another tier")
        seen.add(tier["id"])
        if not str(tier.get("name", "")).strip():
            raise InvalidArgument.for_field(f"{where}.name", "is required")
        price = tier.get("price")
        if not isinstance(price, int) or isinstance(price, bool) or price < 0:
            raise InvalidArgument.for_field(f"{where}.price", "must be a non-negative number of fen")
        if category == "document":
            complexity = tier.get("complexity")
            if complexity not in DOCUMENT_CLOCKS:
                raise InvalidArgument.for_field(
                    f"{where}.complexity", f"a document tier needs one of {', '.join(COMPLEXITIES)}"
                )
            hours, days = DOCUMENT_CLOCKS[complexity]
            if tier.get("delivery_hours") != hours:
                raise InvalidArgument.for_field(
                    f"{where}.delivery_hours", f"must be {hours} for {complexity}"
                )
            if tier.get("revision_days") != days:
                raise InvalidArgument.for_field(f"{where}.revision_days", f"must be {days} for {complexity}")
            if tier.get("acknowledge_minutes") != DOCUMENT_ACKNOWLEDGE_MINUTES:
                raise InvalidArgument.for_field(
                    f"{where}.acknowledge_minutes", f"must be {DOCUMENT_ACKNOWLEDGE_MINUTES}"
                )
        elif tier.get("complexity"):
            raise InvalidArgument.for_field(f"{where}.complexity", "only document tiers have a complexity")


def validate_product(
    category: str, price_fen: int, tiers: list[dict[str, Any]], consultation_kind: str = ""
) -> None:
    """The rules every product obeys before it is stored (seeded or managed)."""
    if price_fen < 0:
        raise InvalidArgument.for_field("price", "must be a non-negative number of fen")
    validate_tiers(category, tiers)
    if category == "consultation":
        if consultation_kind not in CONSULTATION_KINDS:
            raise InvalidArgument.for_field(
                "consultation_kind", f"must be one of {', '.join(CONSULTATION_KINDS)}"
            )
        if consultation_kind == "professional":
            for i, tier in enumerate(tiers):
                if tier.get("reply_hours") != CONSULTATION_REPLY_HOURS:
                    raise InvalidArgument.for_field(
                        f"tiers[{i}].reply_hours", f"must be {CONSULTATION_REPLY_HOURS}"
                    )


def validate_price_range(min_price: int | None, max_price: int | None) -> None:
    if min_price is not None and min_price < 0:
        raise InvalidArgument.for_field("min_price", "must be a non-negative number of fen")
    if max_price is not None and max_price < 0:
        raise InvalidArgument.for_field("max_price", "must be a non-negative number of fen")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise InvalidArgument.for_field("max_price", "must not be below min_price")


# --- firms and lawyers (R-INFO-2, §4.2.1, §6.2.4.2) -------------------------------------------------------

# What a consultation product sells: a paid kind (a general consultation is free).
CONSULTATION_KINDS = tuple(kind for kind in words(ConsultationKind) if kind != "general")
MIN_YEARS_TO_ACTIVATE = 2
STAFF_ROLES = ("lawyer", "reviewer", "agent", "editor", "firm_admin", "supervisor", "operator")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_LICENCE = re.compile(r"^\d{17}$")  # a PRC lawyer's practising certificate number has 17 digits


@dataclass(frozen=True)
class Profile:
    """A validated lawyer profile."""

    name: str
    specialty: str
    fields: tuple[str, ...]
    service_hours: tuple[dict[str, Any], ...]
    service_exceptions: tuple[dict[str, Any], ...]
    years_of_practice: int
    licence_number: str
    bio: str
    user_id: str
    online: bool


def validate_field_filter(field: str) -> str:
    if field and field not in LEGAL_FIELDS:
        raise InvalidArgument.for_field("field", f"must be one of {', '.join(LEGAL_FIELDS)}")
    return field


def _minutes(value: str, where: str) -> int:
    if not _HHMM.match(value):
        raise InvalidArgument.for_field(where, "must be a time HH:MM")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def validate_service_hours(windows: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """Weekly windows {weekday 1..7, start, end}: start before end, no two windows of a weekday overlapping."""
    checked: list[tuple[int, int, int, int]] = []
    for i, window in enumerate(windows):
        where = f"service_hours[{i}]"
        weekday = window.get("weekday")
        if not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise InvalidArgument.for_field(f"{where}.weekday", "must be 1 (Monday) to 7 (Sunday)")
        start = _minutes(str(window.get("start", "")), f"{where}.start")
        end = _minutes(str(window.get("end", "")), f"{where}.end")
        if end <= start:
            raise InvalidArgument.for_field(f"{where}.end", "must be after start")
        for other_i, other_day, other_start, other_end in checked:
            if other_day == weekday and start < other_end and other_start < end:
                raise InvalidArgument.for_field(where, f"overlaps service_hours[{other_i}]")
        checked.append((i, weekday, start, end))
    return tuple(
        {"weekday": w["weekday"], "start": w["start"], "end": w["end"]}
        for w in sorted(windows, key=lambda w: (w["weekday"], w["start"]))
    )


def validate_exceptions(exceptions: list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    result = []
    dates: set[str] = set()
    for i, item in enumerate(exceptions):
        where = f"service_exceptions[{i}]"
        try:
            day = date.fromisoformat(str(item.get("date", "")))
        except ValueError as exc:
            raise InvalidArgument.for_field(f"{where}.date", "must be a date YYYY-MM-DD") from exc
        if day.isoformat() in dates:
            raise InvalidArgument.for_field(f"{where}.date", "has another exception already")
        dates.add(day.isoformat())
        available = bool(item.get("available"))
        start = end = ""
        if available:
            start, end = str(item.get("start", "")), str(item.get("end", ""))
            if _minutes(end, f"{where}.end") <= _minutes(start, f"{where}.start"):
                raise InvalidArgument.for_field(f"{where}.end", "must be after start")
        result.append(
            {
                "date": day.isoformat(),
                "available": available,
                "start": start,
                "end": end,
                "note": str(item.get("note", ""))[:200],
            }
        )
    return tuple(sorted(result, key=lambda e: e["date"]))


def validate_profile(
    *,
    name: str,
    specialty: str,
    fields: list[str],
    service_hours: list[dict[str, Any]],
    service_exceptions: list[dict[str, Any]],
    years_of_practice: int,
    licence_number: str,
    bio: str,
    user_id: str,
    online: bool,
) -> Profile:
    """A lawyer profile as stored; InvalidArgument naming the first bad field."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidArgument.for_field("name", "is required, at most 100 characters")
    if len(specialty) > 200:
        raise InvalidArgument.for_field("specialty", "must be at most 200 characters")
    if len(bio) > 4000:
        raise InvalidArgument.for_field("bio", "must be at most 4000 characters")
    if not fields:
        raise InvalidArgument.for_field("fields", "name at least one legal field")
    for i, field in enumerate(fields):
        if field not in LEGAL_FIELDS:
            raise InvalidArgument.for_field(f"fields[{i}]", f"must be one of {', '.join(LEGAL_FIELDS)}")
    if not 0 <= years_of_practice <= 70:
        raise InvalidArgument.for_field("years_of_practice", "must be between 0 and 70")
    licence_number = licence_number.strip()
    if licence_number and not _LICENCE.match(licence_number):
        raise InvalidArgument.for_field(
            "licence_number", "must be the 17-digit practising certificate number"
        )
    if len(user_id) > 64:
        raise InvalidArgument.for_field("user_id", "must be at most 64 characters")
    return Profile(
        name=name,
        specialty=specialty.strip(),
        fields=tuple(dict.fromkeys(fields)),
        service_hours=validate_service_hours(service_hours),
        service_exceptions=validate_exceptions(service_exceptions),
        years_of_practice=years_of_practice,
        licence_number=licence_number,
        bio=bio.strip(),
        user_id=user_id.strip(),
        online=online,
    )


def check_activation(licence_number: str, years_of_practice: int) -> None:
    """§4.2.1: a lawyer profile without a licence number or with < 2 years of practice cannot be activated."""
    if not licence_number:
        raise InvalidArgument.for_field("licence_number", "is required to activate a lawyer (§4.2.1)")
    if years_of_practice < MIN_YEARS_TO_ACTIVATE:
        raise InvalidArgument.for_field(
            "years_of_practice", f"must be at least {MIN_YEARS_TO_ACTIVATE} to activate a lawyer (§4.2.1)"
        )


def changes_activation(active: bool, activate: bool, licence_number: str, years_of_practice: int) -> bool:
    """Whether (de)activating a profile that is `active` changes it (False: a repeat, which changes and
    publishes nothing). Activation is checked against §4.2.1 first, even when the lawyer is active already."""
    if activate:
        check_activation(licence_number, years_of_practice)
    return active != activate


def require_firm_manager(principal: Principal | None) -> Principal:
    """A firm admin, or a firm's own system (its service credentials): the callers who manage a firm's
    profile and lawyers — each only its own firm's, which `administers` decides per firm."""
    principal = signed_in(principal, "manage a firm")
    if not principal.has_role("firm_admin") and not principal.is_firm_system:
        raise PermissionDenied("only a firm admin or the firm's own system manages its profile and lawyers")
    return principal


def administers(principal: Principal, firm_id: str, admin_user_ids: list[str]) -> bool:
    """Whether `principal` manages firm `firm_id`: one of its admins, or its own system."""
    if principal.is_firm_system:
        return bool(principal.firm_id) and principal.firm_id == firm_id
    return principal.has_role("firm_admin") and principal.user_id in admin_user_ids


def sees_licence(principal: Principal | None) -> bool:
    """Licence numbers are shown to staff only (API.md)."""
    return principal is not None and principal.has_role(*STAFF_ROLES)


# --- reviews (R-Q-1, §5.5) ---------------------------------------------------------------------------------

ORDER_PROGRESS = ("created", "paid", "completed")
ORDER_ENDS = ("cancelled", "refunded")
MAX_COMMENT = 2000


def next_order_status(current: str, event: str) -> str:
    """The order's status after `event` (created|paid|completed|cancelled|refunded). Events may arrive late
    or twice: progress never goes backwards, and a cancelled or refunded order stays so."""
    if current in ORDER_ENDS:
        return current
    if event in ORDER_ENDS:
        return event
    if not current:
        return event
    return max(current, event, key=ORDER_PROGRESS.index)


@dataclass(frozen=True)
class OrderFacts:
    """What the catalog knows of an order (its order record): enough to decide who may review what."""

    status: str = ""
    client_id: str = ""
    tenant_id: str = ""
    product_id: str = ""
    consultation_id: str = ""
    lawyer_id: str = ""


def fold_order_fact(record: OrderFacts, event: str, fact: OrderFacts) -> OrderFacts:
    """`record` after one payment or fulfilment fact: `event` (created|paid|completed|cancelled|refunded, or
    "" for a fact that changes no status) moves the status by `next_order_status`; every id the fact names
    replaces the one recorded, an id it leaves empty keeps it."""
    return OrderFacts(
        status=next_order_status(record.status, event) if event else record.status,
        client_id=fact.client_id or record.client_id,
        tenant_id=fact.tenant_id or record.tenant_id,
        product_id=fact.product_id or record.product_id,
        consultation_id=fact.consultation_id or record.consultation_id,
        lawyer_id=fact.lawyer_id or record.lawyer_id,
    )


@dataclass(frozen=True)
class Rating:
    """A client's stars and words for an order."""

    rating: int
    comment: str


def reviews_order(order_status: str, stored: Rating | None, sent: Rating) -> bool:
    """Whether `sent` becomes the order's review: False when it repeats the review stored (returned as it
    is); Conflict for a different second review (one per order), or before the service completed."""
    if stored is not None:
        if stored == sent:
            return False
        raise Conflict("this order has been reviewed already", reason="already_reviewed")
    check_reviewable(order_status)
    return True


def validate_review(rating: int, comment: str) -> str:
    if not 1 <= rating <= 5:
        raise InvalidArgument.for_field("rating", "must be 1 to 5")
    comment = comment.strip()
    if len(comment) > MAX_COMMENT:
        raise InvalidArgument.for_field("comment", f"must be at most {MAX_COMMENT} characters")
    return comment


def require_client(principal: Principal | None) -> Principal:
    principal = signed_in(principal, "review an order")
    if not principal.is_client:
        raise PermissionDenied("only the client who bought it reviews an order")
    return principal


def check_reviewable(status: str) -> None:
    if status != "completed":
        raise Conflict(
            "the order can be reviewed once its service is completed", reason="order_not_completed"
        )


# --- managing products and firms -----------------------------------------------------------------------

MEDIA_KINDS = ("image", "video", "interactive")
FIELD_TYPES = words(RequirementFieldType)


def bounded_text(value: str, field: str, maximum: int, *, required: bool = True) -> str:
    value = value.strip()
    if (required and not value) or len(value) > maximum:
        raise InvalidArgument.for_field(
            field, f"{'is required, ' if required else 'must be '}at most {maximum} characters"
        )
    return value


def validate_product_content(
    product_id: str,
    name: str,
    description: str,
    media: list[dict[str, Any]],
    process: list[dict[str, str]],
    requirement_fields: list[dict[str, Any]],
) -> None:
    """What a product page needs besides its tiers (R-INFO-1): a name, a description, known media kinds,
    a process of named stages and a well-formed requirement form."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", product_id):
        raise InvalidArgument.for_field("id", "use 1-64 lower-case letters, digits and hyphens")
    bounded_text(name, "name", 200)
    bounded_text(description, "description", 20_000)
    for i, item in enumerate(media):
        if item.get("kind") not in MEDIA_KINDS:
            raise InvalidArgument.for_field(f"media[{i}].kind", f"must be one of {', '.join(MEDIA_KINDS)}")
        if item.get("kind") != "interactive" and not item.get("url"):
            raise InvalidArgument.for_field(f"media[{i}].url", "is required for images and videos")
    if not process:
        raise InvalidArgument.for_field("process", "list the stages the client will see")
    for i, stage in enumerate(process):
        bounded_text(stage.get("stage", ""), f"process[{i}].stage", 50)
        bounded_text(stage.get("title", ""), f"process[{i}].title", 100)
    names: set[str] = set()
    for i, field in enumerate(requirement_fields):
        name_ = bounded_text(field.get("name", ""), f"requirement_fields[{i}].name", 50)
        if name_ in names:
            raise InvalidArgument.for_field(f"requirement_fields[{i}].name", "is used by another field")
        names.add(name_)
        if field.get("type") not in FIELD_TYPES:
            raise InvalidArgument.for_field(
                f"requirement_fields[{i}].type", f"must be one of {', '.join(FIELD_TYPES)}"
            )
        if field.get("type") == "choice" and not field.get("choices"):
            raise InvalidArgument.for_field(f"requirement_fields[{i}].choices", "a choice needs choices")


def validate_firm(
    name: str,
    city: str,
    address: str,
    lat: float,
    lng: float,
    opening_hours: list[dict[str, Any]],
    transit_routes: list[str],
    staff: list[dict[str, str]],
) -> None:
    """A firm's public profile (R-INFO-2, §6.1.3.4)."""
    bounded_text(name, "name", 200)
    bounded_text(city, "city", 50)
    bounded_text(address, "address", 500)
    if not -90 <= lat <= 90:
        raise InvalidArgument.for_field("location.lat", "must be between -90 and 90")
    if not -180 <= lng <= 180:
        raise InvalidArgument.for_field("location.lng", "must be between -180 and 180")
    windows = [
        {"weekday": h.get("weekday"), "start": h.get("opens", ""), "end": h.get("closes", "")}
        for h in opening_hours
    ]
    try:
        validate_service_hours(windows)
    except InvalidArgument as error:
        field = error.violations[0].field.replace("service_hours", "opening_hours")
        field = field.replace(".start", ".opens").replace(".end", ".closes")
        raise InvalidArgument.for_field(
            field, error.violations[0].message.replace("service_hours", "opening_hours")
        ) from None
    if len(transit_routes) > 20:
        raise InvalidArgument.for_field("transit_routes", "at most 20 routes")
    for i, route in enumerate(transit_routes):
        bounded_text(route, f"transit_routes[{i}]", 200)
    if len(staff) > 100:
        raise InvalidArgument.for_field("staff", "at most 100 members")
    for i, member in enumerate(staff):
        bounded_text(member.get("name", ""), f"staff[{i}].name", 100)
        bounded_text(member.get("role", ""), f"staff[{i}].role", 100, required=False)


def require_role(principal: Principal | None, role: str, action: str) -> Principal:
    principal = signed_in(principal, action)
    if not principal.has_role(role):
        raise PermissionDenied(f"only a {role} may {action}")
    return principal


def suggestion_pass_due(
    passed_at: datetime | None, owed_at: datetime | None, now: datetime, every: timedelta
) -> datetime | None:
    """When the next-purchase pass of an enterprise whose history grew at `now` runs: None when it runs now
    (none ran within `every`), otherwise the end of that interval — a pass already owed keeps its time — so
    the event is still considered, at most one pass per `every`."""
    if passed_at is None or now - passed_at >= every:
        return None
    return owed_at or passed_at + every
