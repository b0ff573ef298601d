"""Catalog rules, free of I/O."""

from __future__ import annotations

from services.runtime.errors import InvalidArgument

CATEGORIES = ("consultation", "document", "booking", "retainer")
COMPLEXITIES = ("simple", "standard", "complex")
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
