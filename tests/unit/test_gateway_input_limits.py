"""No input makes the gateway answer 5xx (issue 17, item 6; API.md "A 5xx is always a bug"; R-OPS-3): values
no service or database can store are a 422 problem naming the field, before any service is called.

Each `test_fuzz_*` test is a case the schemathesis tier (tests/e2e/test_api_fuzz.py) found answering 500 on
the running platform, replayed here against the gateway app with fake services; the others pin the
central check (`services.gateway.validation`) for every place a value comes from."""

from __future__ import annotations

import base64
import json
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.consultation.v1 import consultation_service_pb2 as consultation_pb
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.gateway.validation import printable
from services.runtime.errors import InvalidArgument
from services.runtime.limits import INT64_MAX, TIME_RANGE_MESSAGE, requested_time, text_problem
from services.runtime.records import cursor_time, decode_cursor
from tests.support.factories import consultation
from tests.support.gateway import FakeClients, assert_problem, fields
from tests.support.tokens import Issuer

JSON = {"Content-Type": "application/json"}


def refused(response: httpx.Response, *expected: str) -> list[str]:
    """The messages of a 422 that names exactly `expected`."""
    problem = assert_problem(response, 422)
    assert sorted(fields(problem)) == sorted(expected), problem
    return [e["message"] for e in problem["errors"]]


def no_calls(fakes: FakeClients) -> bool:
    return all(
        fakes.fake(service).calls == []
        for service in ("identity", "catalog", "consultation", "documents", "booking", "payment")
    )


# --- cases found by the fuzz tier -----------------------------------------------------------------------


async def test_fuzz_nul_in_the_search_query_is_422_naming_q(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    """GET /api/v1/search?q=%09…%00 was a 500: PostgreSQL refuses NUL in text (R-OPS-3)."""
    response = await client.get("/api/v1/search?q=%09%F1%AB%BA%8D%C2%BA%F3%95%B8%A4%00&limit=4")
    assert "NUL" in refused(response, "q")[0]
    assert no_calls(fakes)


async def test_fuzz_nul_in_the_product_filter_is_422_naming_q(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    """GET /api/v1/products?limit=22&q=a%00b reached the catalog's full-text query with a NUL (R-INFO-1)."""
    refused(await client.get("/api/v1/products?limit=22&q=a%00b"), "q")
    assert no_calls(fakes)


async def test_fuzz_a_chat_sequence_number_beyond_int32_is_422_naming_after(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """`after=2595480342558867698430771200` overflowed the proto int64 and `after=1030475891852154368` the
    PostgreSQL integer `seq` column: both were 500s (R-CS-1, R-OPS-3)."""
    path = "/api/v1/chat/conversations/c-1/messages"
    for after in ("2595480342558867698430771200", "1030475891852154368", str(2**31)):
        refused(
            await client.get(path, params={"after": after}, headers=keys.headers(roles=("client",))), "after"
        )
    assert no_calls(fakes)


async def test_fuzz_a_version_number_beyond_int32_is_422_naming_number(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """GET …/versions/1639411838296177246208/file overflowed the proto int32 `version_number` (R-DOC-6)."""
    path = "/api/v1/document-orders/d-1/versions/1639411838296177246208/file"
    refused(await client.get(path, headers=keys.headers(roles=("client",))), "number")
    assert no_calls(fakes)


@pytest.mark.parametrize(
    "query",
    [
        "from=9999-12-31T23:00:00-05:00",  # no UTC equivalent: the gateway's own conversion overflowed
        "from=0001-01-01T00:00:00%2B01:00",
        "from=0001-01-01T00:00:00Z",  # the booking service's local-time arithmetic overflowed
        "from=9999-12-25T00:00:00Z&to=9999-12-31T23:59:59Z",
        "to=0001-01-01T00:00",
    ],
)
async def test_fuzz_availability_at_the_ends_of_the_calendar_is_422_naming_the_time(
    client: httpx.AsyncClient, fakes: FakeClients, query: str
) -> None:
    """Availability queries at years 1 and 9999 were 500s in the gateway or the booking service (R-BK-1)."""
    response = await client.get(f"/api/v1/lawyers/lawyer-1/availability?{query}")
    named = {part.split("=")[0] for part in query.split("&")}
    assert refused(response, *sorted(named))[0] == "must be between 1900-01-01 and 2999-12-31 (UTC)"
    assert no_calls(fakes)


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+01:00"])
async def test_fuzz_a_booking_start_without_a_utc_equivalent_is_422_naming_start(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer, start: str
) -> None:
    """POST /api/v1/bookings and …/reschedule with such a `start` were 500s in the gateway (R-BK-1)."""
    body = {"lawyer_id": "lawyer-1", "mode": "at_firm", "start": start, "minutes": 60}
    refused(
        await client.post("/api/v1/bookings", json=body, headers=keys.headers(roles=("client",))), "start"
    )
    refused(
        await client.post(
            "/api/v1/bookings/b-1/reschedule", json={"start": start}, headers=keys.headers(roles=("agent",))
        ),
        "start",
    )
    assert no_calls(fakes)


async def test_a_booking_far_in_the_future_still_reaches_the_service(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """The range is wide: a start in 2999 goes to the booking service, whose own rules refuse it (R-BK-1)."""
    fakes.fake("booking").on(
        "CreateBooking",
        lambda request: booking_pb.CreateBookingResponse(
            booking=booking_pb.Booking(id="b-1", mode="at_firm")
        ),
    )
    body = {"lawyer_id": "lawyer-1", "mode": "at_firm", "start": "2999-12-31T23:30:00+00:00", "minutes": 60}
    response = await client.post("/api/v1/bookings", json=body, headers=keys.headers(roles=("client",)))
    assert response.status_code == 201, response.text
    [(_, request, _)] = fakes.fake("booking").calls
    assert request.start.ToJsonString() == "2999-12-31T23:30:00Z"


# --- where values come from: query, path, JSON body (nested, keys), form fields -------------------------


async def test_a_signalling_socket_without_http_handshake_answers_closes_4422_naming_call_id(
    fakes: FakeClients, keys: Issuer
) -> None:
    """Where the server cannot answer a WebSocket handshake with HTTP (no `websocket.http.response`
    extension), an oversized call id is accepted only to be closed with 4422 and a reason naming `call_id`,
    before the token is read or any service asked."""
    app = create_app(GatewaySettings(env="test"), clients=fakes, verifier=keys.verifier())
    path = f"/api/v1/calls/{'c' * 201}/signal"
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("gateway.test", 80),
        "extensions": {},
    }
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert sent[1]["code"] == 4422 and sent[1]["reason"].startswith("call_id must be at most 200")
    assert no_calls(fakes)


async def test_nul_in_a_path_parameter_is_422_naming_it(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    """Path parameters are ids the services look up in PostgreSQL text columns (R-OPS-3)."""
    refused(await client.get("/api/v1/products/p%00-1"), "product_id")
    assert no_calls(fakes)


async def test_nul_in_a_json_field_is_422_naming_it(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    """A JSON `\\u0000` decodes to NUL (R-OPS-3)."""
    body = {"kind": "general", "subject": "a\u0000b", "question": "q"}
    assert "NUL" in refused(await client.post("/api/v1/consultations", json=body, headers=auth), "subject")[0]
    assert no_calls(fakes)


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "x\\ud83d", "\\ude00y"])
async def test_an_unpaired_surrogate_in_a_json_field_is_422_naming_it(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str], escape: str
) -> None:
    """JSON's `\\ud800` escape decodes to a lone surrogate, which neither UTF-8 nor protobuf can carry
    (R-OPS-3). Pydantic refuses it in a `str` field; the message says what to send instead."""
    content = ('{"kind": "general", "subject": "s", "question": "' + escape + '"}').encode()
    response = await client.post("/api/v1/consultations", content=content, headers={**auth, **JSON})
    assert "surrogate" in refused(response, "question")[0]
    assert no_calls(fakes)


async def test_a_surrogate_pair_is_one_character_and_accepted(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    """`\\ud83d\\ude00` is 😀: paired surrogates are valid text and reach the service (R-CON-2)."""
    fakes.fake("consultation").on(
        "CreateConsultation",
        lambda request: consultation_pb.CreateConsultationResponse(consultation=consultation()),
    )
    content = b'{"kind": "general", "subject": "s", "question": "\\ud83d\\ude00"}'
    response = await client.post("/api/v1/consultations", content=content, headers={**auth, **JSON})
    assert response.status_code == 201, response.text
    [(_, request, _)] = fakes.fake("consultation").calls
    assert request.question == "😀"


async def test_a_surrogate_in_a_field_name_is_a_422_not_a_500(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """A problem names the fields a client sent, and a lone surrogate in a name cannot be encoded into the
    response: the name is shown with U+FFFD instead (R-OPS-3)."""
    content = b'{"checklist": {"\\ud800": "not a bool"}}'
    response = await client.post(
        "/api/v1/bookings/b-1/quality-checklist",
        content=content,
        headers={**keys.headers(roles=("lawyer",)), **JSON},
    )
    assert response.status_code == 422, response.text
    assert all("\ud800" not in f for f in fields(response.json()))
    assert no_calls(fakes)


async def test_nul_deep_in_a_body_names_the_path_to_it(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """Lists are named by index and nested models by field (R-BK-2)."""
    body = {"enterprise_id": "e-1", "date": "2026-01-01", "findings": "f", "attendees": ["a", "b\u0000"]}
    refused(
        await client.post("/api/v1/visits", json=body, headers=keys.headers(roles=("lawyer",))), "attendees.1"
    )
    assert no_calls(fakes)


async def test_a_bad_key_in_a_free_form_object_names_the_object(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    """`requirements{}` is the client's form; a key is stored like a value (R-DOC-2). The field named is the
    object, as the key itself cannot be shown."""
    content = b'{"product_id": "p-1", "requirements": {"\\udc00": "x", "ok": ["\\u0000"]}}'
    response = await client.post("/api/v1/orders", content=content, headers={**auth, **JSON})
    messages = refused(response, "requirements", "requirements.ok.0")
    assert any("has a key that" in m for m in messages)
    assert no_calls(fakes)


async def test_numbers_in_a_free_form_object_are_bounded(
    client: httpx.AsyncClient, fakes: FakeClients, auth: dict[str, str]
) -> None:
    """Python's JSON reader accepts integers of any size and NaN; neither fits a proto or a column
    (R-DOC-2, R-OPS-3)."""
    content = b'{"product_id": "p-1", "requirements": {"n": 1' + b"0" * 30 + b', "x": NaN}}'
    response = await client.post("/api/v1/orders", content=content, headers={**auth, **JSON})
    messages = refused(response, "requirements.n", "requirements.x")
    assert f"and {INT64_MAX}" in messages[0] and messages[1] == "must be a finite number"
    assert no_calls(fakes)


async def test_nul_in_a_form_field_and_a_file_name_is_422_naming_them(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """Multipart fields (a draft's note, the file's name) are stored as text too (R-DOC-6)."""
    # Written by hand: httpx would escape the NUL in the file name as %00.
    content = (
        b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nn\x00\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\x00.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF\r\n--b--\r\n"
    )
    response = await client.post(
        "/api/v1/document-orders/d-1/drafts",
        content=content,
        headers={**keys.headers(roles=("lawyer",)), "Content-Type": "multipart/form-data; boundary=b"},
    )
    refused(response, "note", "file.filename")
    assert no_calls(fakes)


async def test_the_caller_is_checked_before_the_values(client: httpx.AsyncClient, fakes: FakeClients) -> None:
    """No token is 401 whatever the body holds: values are checked after the route's dependencies
    (R-OPS-3)."""
    body = {"kind": "general", "subject": "\u0000", "question": "q"}
    assert_problem(await client.post("/api/v1/consultations", json=body), 401)


# --- declared bounds ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/products", {"min_price": str(2**31)}, "min_price"),
        ("/api/v1/products", {"max_price": str(2**63)}, "max_price"),
    ],
)
async def test_integer_query_parameters_stop_at_their_column(
    client: httpx.AsyncClient, fakes: FakeClients, path: str, query: dict[str, str], field: str
) -> None:
    """Prices are PostgreSQL integer columns of fen (R-INFO-1)."""
    refused(await client.get(path, params=query), field)
    assert no_calls(fakes)


async def test_integer_body_fields_stop_at_their_column(
    client: httpx.AsyncClient, fakes: FakeClients, keys: Issuer
) -> None:
    """A refund and a booking's length are integer columns; the proto fields are int64 and int32 (R-PAY-4,
    R-BK-1)."""
    refund = {"amount": 2**31, "reason": "agent_refund"}
    refused(
        await client.post("/api/v1/orders/o-1/refund", json=refund, headers=keys.headers(roles=("agent",))),
        "amount",
    )
    booking = {"lawyer_id": "l-1", "mode": "at_firm", "start": "2026-12-01T08:00:00Z", "minutes": 2**31}
    refused(
        await client.post("/api/v1/bookings", json=booking, headers=keys.headers(roles=("client",))),
        "minutes",
    )
    assert no_calls(fakes)


def _integer_inputs(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every integer a request may carry (parameters and bodies, followed through $refs), by where."""
    components = document["components"]["schemas"]
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                walk(components[name], where, seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(key, []):
                walk(option, where, seen)
        if schema.get("type") == "integer":
            found.append((where, schema))
        for name, member in schema.get("properties", {}).items():
            walk(member, f"{where}.{name}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}{{}}", seen)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['name']}", frozenset())
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content["schema"], f"{method} {path} body", frozenset())
    return found


# Inputs stored as a PostgreSQL bigint and carried as a proto int64, bounded by what a JSON client reads exactly.
WIDE_INTEGER_INPUTS = {"post /api/v1/firms body.registered_capital.amount"}


def test_every_integer_a_request_carries_declares_bounds_a_column_can_store(keys: Issuer) -> None:
    """Each integer input documents its minimum and maximum, and both fit a PostgreSQL integer and a proto
    int32 — the narrowest place any of them goes (R-OPS-3) — or, for the few stored as bigint, a JSON
    client's exact integers. A new unbounded integer fails here."""
    app = create_app(GatewaySettings(env="test"), clients=FakeClients(), verifier=keys.verifier())
    inputs = _integer_inputs(app.openapi())
    assert len(inputs) > 30
    unbounded = [where for where, s in inputs if "minimum" not in s or "maximum" not in s]
    assert unbounded == []
    narrow = [(where, s) for where, s in inputs if where not in WIDE_INTEGER_INPUTS]
    too_wide = [where for where, s in narrow if s["minimum"] < -(2**31) or s["maximum"] > 2**31 - 1]
    assert too_wide == []
    wide = {where: s for where, s in inputs if where in WIDE_INTEGER_INPUTS}
    assert wide.keys() == WIDE_INTEGER_INPUTS
    assert all(s["minimum"] > -(2**53) and s["maximum"] <= 2**53 - 1 for s in wide.values())


# --- the helpers ----------------------------------------------------------------------------------------


def test_text_problem_names_nul_and_unpaired_surrogates_only() -> None:
    """Everything else Unicode has, control characters and U+FFFF included, is storable text (R-OPS-3)."""
    assert text_problem("律师 😀 \t\n\u00ff\uffff") is None
    assert "NUL" in (text_problem("a\x00") or "")
    assert "surrogate" in (text_problem("\ud800") or "")
    assert "surrogate" in (text_problem("a\udfffb") or "")


def test_printable_replaces_surrogates_so_a_problem_can_be_encoded() -> None:
    """What a problem echoes can always be encoded as UTF-8 (R-OPS-3)."""
    assert printable("a\ud800b\x00") == "a\ufffdb\x00"
    json.dumps(printable("\udc80"), ensure_ascii=False).encode()


async def test_valid_values_still_pass_with_their_edges(
    client: httpx.AsyncClient, fakes: FakeClients
) -> None:
    """Bounds are inclusive: the largest price a column holds is a valid filter (R-INFO-1)."""
    fakes.fake("catalog").on("ListProducts", lambda request: catalog_pb.ListProductsResponse())
    response = await client.get("/api/v1/products", params={"min_price": "0", "max_price": str(2**31 - 1)})
    assert response.status_code == 200, response.text
    [(_, request, _)] = fakes.fake("catalog").calls
    assert request.max_price == 2**31 - 1


# --- the services' side of the same limits (gRPC callers bypass the gateway) -----------------------------


@pytest.mark.parametrize("seconds", [-62135596800, 253402300799, -2208988801, 32503680000])
def test_a_requested_time_outside_the_range_is_invalid_argument(seconds: int) -> None:
    """Years 1 and 9999, a second before 1900 and the first second of 3000 (R-BK-1)."""
    with pytest.raises(InvalidArgument) as refused_time:
        requested_time(Timestamp(seconds=seconds), "start")
    assert [(v.field, v.message) for v in refused_time.value.violations] == [("start", TIME_RANGE_MESSAGE)]


def test_a_requested_time_inside_the_range_is_returned_in_utc() -> None:
    """The last second of 2999 is still a time a request may name (R-BK-1)."""
    assert requested_time(Timestamp(seconds=32503679999), "start") == datetime(
        2999, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def _cursor(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values",
    [
        ["2026-01-01T00:00:00+00:00", "a\u0000"],
        ["2026-01-01T00:00:00+00:00", "\ud800"],
        ["rank", 2**70],
        [[1]],
        [1.5],
    ],
)
def test_a_crafted_cursor_is_invalid_argument_not_a_database_error(values: object) -> None:
    """Cursors are base64 JSON a client can forge; values PostgreSQL cannot store or compare are refused
    like any cursor the API did not issue (R-OPS-3)."""
    with pytest.raises(InvalidArgument):
        decode_cursor(_cursor(values))


def test_a_cursor_time_without_an_offset_is_invalid_argument() -> None:
    """A naive time cannot be compared with a timestamptz column (asyncpg refuses it: a 500; R-OPS-3)."""
    assert cursor_time("2026-01-01T00:00:00+00:00") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidArgument):
        cursor_time("2026-01-01T00:00:00")
    with pytest.raises(InvalidArgument):
        cursor_time(7)
