"""A law firm's system integrates over gRPC through the firm endpoint (issue 17 items 4 and 5, R-OPS-3): the
integrator's example (examples/firm_client.py, docs/integrating.md) runs against the session's platform with
credentials the firm admin created; the lawyer it adds is visible with free slots in the public API; a
booking a client makes with that lawyer reaches the firm on its event stream, resumed from the cursor the
first run saved. Then, as an attacker would: the endpoint answers nothing but the firm-facing RPCs, nothing
without a firm's token, and another firm's objects are NOT_FOUND."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from counsel.booking.v1 import booking_service_pb2 as booking_pb
from counsel.booking.v1.booking_service_pb2_grpc import BookingServiceStub
from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceStub
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from counsel.identity.v1.identity_service_pb2_grpc import IdentityServiceStub
from deploy.local.launcher import StackProcess
from tests.support.journeys import login, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "firm_client.py"
ANOTHER_FIRMS_LAWYER = "lawyer-4"  # 北京知信律师事务所, not the demo firm admin's firm


def run_example(
    platform: StackProcess, credentials: dict[str, str], cursor: Path, *args: str
) -> list[dict[str, Any]]:
    """The example as a firm would run it; its JSON lines, after checking it succeeded."""
    done = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--endpoint",
            endpoint(platform),
            "--ca",
            str(platform.data_dir / "run" / "pki" / "ca.pem"),
            "--licence",
            "11010201899990017",
            "--cursor-file",
            str(cursor),
            *args,
        ],
        env=os.environ
        | {
            "COUNSEL_FIRM_CLIENT_ID": credentials["client_id"],
            "COUNSEL_FIRM_CLIENT_SECRET": credentials["client_secret"],
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def endpoint(platform: StackProcess) -> str:
    return f"127.0.0.1:{platform.env['COUNSEL_FIRM_GRPC_PORT']}"


def steps(lines: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["step"] == step]


@pytest.fixture
def credentials(http: httpx.Client) -> dict[str, str]:
    admin = login(http, "firm_admin@demo.counsel.test")
    created = http.post("/api/v1/firm/service-clients", headers=admin, json={"name": "律所管理系统 e2e"})
    assert created.status_code == 201, created.text
    return {"client_id": created.json()["client_id"], "client_secret": created.json()["client_secret"]}


@pytest.fixture(scope="module")
def channel(platform: StackProcess) -> Iterator[grpc.Channel]:
    ca = (platform.data_dir / "run" / "pki" / "ca.pem").read_bytes()
    with grpc.secure_channel(
        endpoint(platform), grpc.ssl_channel_credentials(root_certificates=ca)
    ) as channel:
        yield channel


def firm_token(channel: grpc.Channel, credentials: dict[str, str]) -> tuple[tuple[str, str], ...]:
    reply = IdentityServiceStub(channel).IssueServiceToken(
        identity_pb.IssueServiceTokenRequest(**credentials), timeout=10
    )
    assert reply.firm_id == "firm-beijing-zhengda"
    return (("authorization", f"Bearer {reply.access_token}"),)


def book(http: httpx.Client, client: dict[str, str], lawyer_id: str) -> dict[str, Any]:
    begin = datetime.now(UTC) + timedelta(days=3)
    slots = http.get(
        f"/api/v1/lawyers/{lawyer_id}/availability",
        params={"from": begin.isoformat(), "to": (begin + timedelta(days=7)).isoformat()},
    )
    assert slots.status_code == 200, slots.text
    slot = next(s for s in slots.json()["items"] if s["minutes"] >= 60)
    held = http.post(
        "/api/v1/bookings",
        headers=client | {"Idempotency-Key": uuid.uuid4().hex},
        json={"lawyer_id": lawyer_id, "mode": "at_firm", "start": slot["start"], "minutes": 60},
    )
    assert held.status_code == 201, held.text
    booking: dict[str, Any] = held.json()
    return booking


def test_the_example_manages_the_roster_and_sees_a_clients_booking_on_its_stream(
    platform: StackProcess, http: httpx.Client, credentials: dict[str, str], tmp_path: Path
) -> None:
    cursor = tmp_path / "firm-events.cursor"
    # First run: the firm's profile and roster, a new lawyer, cards, and the lists of its lawyers' work.
    first = run_example(platform, credentials, cursor)
    assert steps(first, "firm")[0]["firm_id"] == "firm-beijing-zhengda"
    assert steps(first, "credentials")[0]["verification"] == "verified"  # §4.2.1 before activation
    lawyer = steps(first, "lawyer")[0]
    assert lawyer["active"] and lawyer["hours"] == 5
    assert steps(first, "cards")[0]["revoked"] == "revoked"
    assert steps(first, "done")

    # The roster change is public at once: the profile, and free slots within its weekday hours.
    public = http.get(f"/api/v1/lawyers/{lawyer['lawyer_id']}")
    assert public.status_code == 200, public.text
    assert public.json()["firm_id"] == "firm-beijing-zhengda"
    client = login(http, "client@demo.counsel.test")
    earlier = book(http, client, lawyer["lawyer_id"])

    # Second run (idempotent: the same lawyer) follows the stream from the start until caught up, and saves
    # its cursor after the client's first booking.
    second = run_example(platform, credentials, cursor, "--follow", "5")
    assert steps(second, "lawyer")[0]["lawyer_id"] == lawyer["lawyer_id"]
    seen = {e["object_id"] for e in steps(second, "event") if e["type"] == "booking.held"}
    assert earlier["id"] in seen
    assert cursor.read_text()

    # Third run resumes from the saved cursor: the first booking.held after it is the client's next booking.
    later = book(http, client, lawyer["lawyer_id"])
    third = run_example(platform, credentials, cursor, "--follow", "90", "--until", "booking.held")
    assert steps(third, "following")[0]["since"] == steps(second, "event")[-1]["cursor"]
    held = [e for e in steps(third, "event") if e["type"] == "booking.held"]
    assert [e["object_id"] for e in held] == [later["id"]]
    assert held[0]["object_type"] == "booking" and held[0]["lawyer_id"] == lawyer["lawyer_id"]
    assert not {e["cursor"] for e in steps(second, "event")} & {e["cursor"] for e in steps(third, "event")}


def test_the_firm_endpoint_answers_only_firms_and_only_about_their_own_lawyers(
    http: httpx.Client, channel: grpc.Channel, credentials: dict[str, str]
) -> None:
    booking = BookingServiceStub(channel)
    catalog = CatalogServiceStub(channel)
    list_bookings = booking_pb.ListBookingsRequest()

    with pytest.raises(grpc.RpcError) as no_token:
        booking.ListBookings(list_bookings, timeout=10)
    assert no_token.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]

    person = login(http, "client@demo.counsel.test")["Authorization"]
    with pytest.raises(grpc.RpcError) as not_a_firm:
        booking.ListBookings(list_bookings, metadata=(("authorization", person),), timeout=10)
    assert not_a_firm.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]

    firm = firm_token(channel, credentials)
    # Not part of what a firm may call: an internal RPC, and a public one that is for clients.
    for method in (
        "/counsel.payment.v1.PaymentInternalService/ExpireOrder",
        "/counsel.payment.v1.PaymentService/CreateOrder",
    ):
        with pytest.raises(grpc.RpcError) as absent:
            channel.unary_unary(method)(b"", metadata=firm, timeout=10)
        assert absent.value.code() == grpc.StatusCode.UNIMPLEMENTED, method  # type: ignore[attr-defined]

    # Text no service can store, and bytes that are no request at all: refused at the edge, naming the field.
    with pytest.raises(grpc.RpcError) as nul:
        booking.GetBooking(booking_pb.GetBookingRequest(booking_id="b\x00"), metadata=firm, timeout=10)
    assert nul.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
    assert "booking_id" in nul.value.details()  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as garbage:
        channel.unary_unary("/counsel.booking.v1.BookingService/GetBooking")(
            b"\xff\xff", metadata=firm, timeout=10
        )
    assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]

    # Another firm's lawyer and that lawyer's booking do not exist for this firm.
    theirs = book(http, login(http, "client@demo.counsel.test"), ANOTHER_FIRMS_LAWYER)
    with pytest.raises(grpc.RpcError) as other_booking:
        booking.GetBooking(booking_pb.GetBookingRequest(booking_id=theirs["id"]), metadata=firm, timeout=10)
    assert other_booking.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as other_lawyer:
        catalog.DeactivateLawyer(
            catalog_pb.DeactivateLawyerRequest(lawyer_id=ANOTHER_FIRMS_LAWYER), metadata=firm, timeout=10
        )
    assert other_lawyer.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    with pytest.raises(grpc.RpcError) as other_stream:
        next(
            catalog.WatchFirmEvents(
                catalog_pb.WatchFirmEventsRequest(firm_id="firm-beijing-zhixin"), metadata=firm, timeout=10
            )
        )
    assert other_stream.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    mine = booking.ListBookings(list_bookings, metadata=firm, timeout=10).bookings
    assert theirs["id"] not in {b.id for b in mine}

    # A revoked credential gets no new token, and the tokens it got stop working within seconds.
    admin = login(http, "firm_admin@demo.counsel.test")
    listed = http.get("/api/v1/firm/service-clients", headers=admin)
    assert listed.status_code == 200, listed.text
    mine = next(c for c in listed.json()["items"] if c["client_id"] == credentials["client_id"])
    assert mine["revoked_at"] is None and mine["client_secret"] is None  # the secret is never shown again
    revoked = http.post(f"/api/v1/firm/service-clients/{credentials['client_id']}/revoke", headers=admin)
    assert revoked.status_code == 200, revoked.text
    listed = http.get("/api/v1/firm/service-clients", headers=admin).json()["items"]
    assert next(c for c in listed if c["client_id"] == credentials["client_id"])["revoked_at"]
    with pytest.raises(grpc.RpcError) as refused:
        firm_token(channel, credentials)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]

    def refused_now() -> bool:
        try:
            booking.ListBookings(list_bookings, metadata=firm, timeout=10)
        except grpc.RpcError as error:
            return error.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined,no-any-return]
        return False

    wait_for(refused_now, timeout=15)
