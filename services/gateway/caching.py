"""Conditional GETs for public reads: an `ETag` over the exact JSON body and `304 Not Modified` when the
client's `If-None-Match` names it (RFC 9110 §13.1.2). Responses may differ by caller (staff see licence
numbers), so shared caches must key on Authorization and revalidate."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel


def _tags(header: str) -> set[str]:
    # Weak comparison: W/"x" and "x" match (RFC 9110 §8.8.3.2).
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def conditional(request: Request, model: BaseModel) -> Response:
    """`model` as application/json with its ETag, or an empty 304 when the client already has it."""
    body = model.model_dump_json().encode()
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Authorization"}
    wanted = _tags(request.headers.get("if-none-match", ""))
    if etag in wanted or "*" in wanted:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
