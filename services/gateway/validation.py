"""What every request value must satisfy before it goes anywhere, checked once for every route.

FastAPI and pydantic check types and the bounds a schema declares. What they let through, and the services
or PostgreSQL then refuse with an exception (a 500), is refused here with a 422 problem naming the field:
- text with NUL (PostgreSQL `text` cannot hold U+0000) or an unpaired surrogate (not encodable as UTF-8, so
  neither protobuf nor PostgreSQL can carry it; JSON's `"\\ud800"` escapes decode to one);
- integers beyond int64 (the widest proto and PostgreSQL integer; narrower fields declare their own bounds
  with `INT32_MAX` from `schemas.common`) and non-finite numbers (Python's JSON reader accepts `NaN`);
- times outside the years 1900 to 2999 UTC (`services.runtime.limits`, which the services apply too): a
  proto Timestamp, like Python, ends at years 1 and 9999, `9999-12-31T23:00:00-05:00` has no UTC
  equivalent, and services add days and convert to local zones, overflowing near either end.

The check runs on the values FastAPI validated for the endpoint — path, query, header, cookie and body
parameters, nested models, lists and dicts (keys too) — after the route's dependencies, so a caller without
the right token or role still gets 401/403 first. `CheckedRoute` is the route class of every router
(`routing.api_router`)."""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from services.runtime.limits import (
    EARLIEST_TIME,
    INT64_MAX,
    INT64_MIN,
    LATEST_TIME,
    TIME_RANGE_MESSAGE,
    text_problem,
)

Loc = tuple[str | int, ...]


def printable(value: str) -> str:
    """`value` with unpaired surrogates replaced by U+FFFD, so it can be encoded into a response (a problem
    that echoes a field name a client sent must not fail to encode)."""
    return re.sub("[\ud800-\udfff]", "\ufffd", value)


def _problems(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        message = text_problem(value)
        if message:
            yield loc, message
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            yield loc, f"must be between {INT64_MIN} and {INT64_MAX}"
    elif isinstance(value, float):
        if not math.isfinite(value):
            yield loc, "must be a finite number"
    elif isinstance(value, datetime):
        try:  # a time without an offset is read as UTC, as the routes do
            utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:  # 9999-12-31T23:00:00-05:00 has no UTC equivalent
            utc = None
        if utc is None or not EARLIEST_TIME <= utc < LATEST_TIME:
            yield loc, TIME_RANGE_MESSAGE
    elif isinstance(value, date):
        return
    elif isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            yield from _problems(getattr(value, name), (*loc, field.alias or name))
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and text_problem(key):
                yield loc, f"has a key that {text_problem(key)}"
            else:
                yield from _problems(item, (*loc, str(key)))
    elif isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            yield from _problems(item, (*loc, index))
    elif isinstance(value, UploadFile) and value.filename is not None:
        yield from _problems(value.filename, (*loc, "filename"))


def request_problems(values: dict[str, Any], locations: dict[str, Loc]) -> list[dict[str, Any]]:
    """Validation errors (pydantic's shape, for `RequestValidationError`) for the values in `values` whose
    names are in `locations` (the request parameters of an endpoint, with the location a client knows them
    by)."""
    errors = []
    for name, loc in locations.items():
        if name in values:
            for where, message in _problems(values[name], loc):
                errors.append({"type": "value_not_storable", "loc": where, "msg": message, "input": None})
    return errors


class CheckedRoute(APIRoute):
    """An APIRoute whose endpoint gets only values that every service and database can store; others are a
    422 `RequestValidationError` naming the field, like any other validation error."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):  # the wrapper below awaits it
            raise TypeError(f"{endpoint.__qualname__}: gateway endpoints are `async def`")
        locations: dict[str, Loc] = {}  # filled below, once FastAPI has read the endpoint's parameters

        @functools.wraps(endpoint)
        async def checked(**values: Any) -> Any:
            errors = request_problems(values, locations)
            if errors:
                raise RequestValidationError(errors)
            return await endpoint(**values)

        super().__init__(path, checked, **kwargs)
        dependant = self.dependant
        for where, params in (
            ("path", dependant.path_params),
            ("query", dependant.query_params),
            ("header", dependant.header_params),
            ("cookie", dependant.cookie_params),
        ):
            for param in params:
                locations[param.name] = (where, param.alias)
        # FastAPI's own decision (a private attribute): a lone model body is the whole body, its fields
        # top-level; otherwise (form fields, several bodies) each body parameter is known by its name.
        embedded = getattr(self, "_embed_body_fields", True)
        for param in dependant.body_params:
            locations[param.name] = ("body", param.alias) if embedded else ("body",)
