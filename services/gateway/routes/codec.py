"""The Temporal UI's codec server (docs/privacy.md): `POST /codec/decode` and `/codec/encode` take and answer
`{"payloads": [<Payload as proto3 JSON>]}` (Temporal's codec-server protocol), so authorised staff read
workflow payloads in the UI while the Temporal server holds them sealed.

Only a supervisor's or an operator's access token opens payloads (the UI forwards its user's token as
`Authorization`); the browser may call it from `COUNSEL_TEMPORAL_UI_ORIGIN` alone. Not part of the public API:
hidden from the OpenAPI document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from services.gateway.config import GatewaySettings
from services.gateway.deps import CurrentPrincipal, SettingsDep
from services.runtime.codec import EncryptionCodec, UnknownPayloadKey
from services.runtime.errors import InvalidArgument, PermissionDenied
from services.runtime.keys import master_key

router = APIRouter(include_in_schema=False)

STAFF_WHO_READ_PAYLOADS = ("supervisor", "operator")
_ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"


def _codec(request: Request, settings: GatewaySettings) -> EncryptionCodec:
    codec: EncryptionCodec | None = getattr(request.app.state, "payload_codec", None)
    if codec is None:
        codec = request.app.state.payload_codec = EncryptionCodec(master_key(settings))
    return codec


def _cors(request: Request, settings: GatewaySettings, response: Response) -> Response:
    origin = request.headers.get("origin", "")
    if origin and origin == settings.temporal_ui_origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    return response


@router.options("/codec/{operation}")
async def codec_preflight(operation: str, request: Request, settings: SettingsDep) -> Response:
    """The browser's preflight: allowed from the Temporal UI's origin only (no CORS headers otherwise)."""
    response = Response()
    if request.headers.get("origin", "") == settings.temporal_ui_origin and settings.temporal_ui_origin:
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = _ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return _cors(request, settings, response)


@router.post("/codec/encode")
async def encode(request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    return await _apply(request, principal, settings, encode=True)


@router.post("/codec/decode")
async def decode(request: Request, principal: CurrentPrincipal, settings: SettingsDep) -> Response:
    return await _apply(request, principal, settings, encode=False)


async def _apply(request: Request, principal: Any, settings: GatewaySettings, *, encode: bool) -> Response:
    if not principal.has_role(*STAFF_WHO_READ_PAYLOADS):
        raise PermissionDenied("only a supervisor or an operator may read workflow payloads")
    payloads = Payloads()
    try:
        json_format.Parse(await request.body(), payloads)
    except json_format.ParseError as exc:
        raise InvalidArgument.for_field("payloads", f"not Temporal payloads in JSON: {exc}") from None
    codec = _codec(request, settings)
    try:
        done = await (codec.encode if encode else codec.decode)(list(payloads.payloads))
    except UnknownPayloadKey as exc:
        raise InvalidArgument.for_field("payloads", str(exc)) from None
    body = json_format.MessageToJson(Payloads(payloads=done))
    return _cors(request, settings, Response(body, media_type="application/json"))
