"""What a request's value must be for protobuf and PostgreSQL to store it, and for the services' arithmetic
to work on it. The gateway refuses other values with a 422 naming the field (`services.gateway.validation`);
services use the same limits on what gRPC callers send."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from services.runtime.errors import InvalidArgument

# A proto int32 and a PostgreSQL `integer` column (every *_fen amount, counts, version and sequence numbers).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# A proto int64 and a PostgreSQL `bigint`: the widest integer anything stores.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# The largest integer a JSON client reads exactly (a JavaScript number): the bound of an amount wider than an
# int32 (stored as `bigint`, carried as a proto int64), such as a firm's registered capital.
JSON_SAFE_INTEGER_MAX = 2**53 - 1

NUL_MESSAGE = "must not contain the NUL character (U+0000)"
SURROGATE_MESSAGE = "must not contain an unpaired surrogate (U+D800 to U+DFFF); send valid UTF-8 text"
# Any surrogate code point in a Python str is unpaired: a JSON pair ("\ud83d\ude00") decodes to one code point.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can: PostgreSQL `text` refuses NUL, and an
    unpaired surrogate has no UTF-8 encoding (neither protobuf nor PostgreSQL can carry it)."""
    found = _UNSTORABLE_CHARACTER.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


# The instants a request may name. Python and proto Timestamps end at years 1 and 9999, and services add
# days and convert to local time zones, so an instant near either end overflows somewhere (a 500); nothing
# a legal service schedules or looks up lies outside these years.
EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(3000, 1, 1, tzinfo=UTC)
TIME_RANGE_MESSAGE = "must be between 1900-01-01 and 2999-12-31 (UTC)"


def requested_time(stamp: Timestamp, field: str) -> datetime:
    """A request's time: InvalidArgument naming `field` when it is outside EARLIEST_TIME..LATEST_TIME."""
    try:
        value = stamp.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):  # seconds beyond what a Timestamp may hold
        raise InvalidArgument.for_field(field, TIME_RANGE_MESSAGE) from None
    if not EARLIEST_TIME <= value < LATEST_TIME:
        raise InvalidArgument.for_field(field, TIME_RANGE_MESSAGE)
    return value
