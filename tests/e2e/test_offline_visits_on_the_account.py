"""Offline visits and meetings linked to the client's account (§6.1.1.2, R-ACC-3, issue 23 item 9), against the
platform of `counsel up`: a client books a lawyer's on-site visit starting now and pays it; the lawyer checks
in, and the check-in joins the client's own `/me/activity` and `/me/export` (with the booking's stages). A
lawyer's visit record names a client enterprise identity knows (an unknown one is 422), and a client asking
for another enterprise's visits gets 404. After the client erases their data the check-in is gone from the
linked activity and the visit's address is redacted. Any 5xx fails the test."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from deploy.local.launcher import StackProcess
from deploy.local.servers import PostgresServer
from services.runtime.db import asyncpg_dsn
from services.runtime.erasure import ERASED_TEXT
from tests.support.journeys import login, register_by_sms, wait_for

LAWYER = ("lawyer-5", "lawyer5@demo.counsel.test")  # on call around the clock: a visit can start now
ADDRESS = "上海市浦东新区世纪大道100号 18楼"


def on_site_visit_starting_now(http: httpx.Client, client: dict[str, str]) -> dict[str, Any]:
    """A held on-site visit at the lawyer's first free start (within the next half hour: the grid's step)."""
    now = datetime.now(UTC)
    slots = http.get(
        f"/api/v1/lawyers/{LAWYER[0]}/availability",
        params={"from": now.isoformat(), "to": (now + timedelta(hours=6)).isoformat(), "mode": "on_site"},
    ).json()["items"]
    for slot in slots:
        held = http.post(
            "/api/v1/bookings",
            headers=client | {"Idempotency-Key": uuid.uuid4().hex},
            json={
                "lawyer_id": LAWYER[0],
                "mode": "on_site",
                "start": slot["start"],
                "minutes": 30,
                "address": ADDRESS,
                "needs": "现场核查用工台账",
            },
        )
        if held.status_code == 201:
            booking: dict[str, Any] = held.json()
            return booking
        assert held.status_code == 409, held.text
    raise AssertionError("no free slot")


def pay(http: httpx.Client, client: dict[str, str], booking_id: str) -> None:
    order = http.post(
        "/api/v1/orders",
        headers=client,
        json={"product_id": "booking-on-site", "requirements": {}, "booking": {"booking_id": booking_id}},
    )
    assert order.status_code == 201, order.text
    paying = http.post(
        f"/api/v1/orders/{order.json()['id']}/payments", headers=client, json={"method": "sandbox"}
    )
    assert paying.status_code == 201, paying.text
    assert http.post(f"/api/v1/dev/sandbox-pay/{paying.json()['payment_id']}").status_code == 202

    def confirmed() -> dict[str, Any] | None:
        current: dict[str, Any] = http.get(f"/api/v1/bookings/{booking_id}", headers=client).json()
        return current if current["status"] == "confirmed" else None

    wait_for(confirmed, timeout=90)


async def database_rows(postgres: PostgresServer, database: str, query: str, *args: object) -> list[Any]:
    connection = await asyncpg.connect(asyncpg_dsn(postgres.url, database))
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


def test_a_visit_check_in_is_on_the_clients_account_in_the_export_and_erased_with_it(
    http: httpx.Client, platform: StackProcess, postgres_server: PostgresServer
) -> None:
    _, account = register_by_sms(http, "线下拜访端到端有限公司")
    client = {"Authorization": f"Bearer {account['access_token']}"}
    user_id, enterprise_id = account["user"]["id"], account["user"]["tenant_id"]
    lawyer = login(http, LAWYER[1])

    booking = on_site_visit_starting_now(http, client)
    pay(http, client, booking["id"])
    checked_in = http.post(f"/api/v1/bookings/{booking['id']}/check-in", headers=lawyer)
    assert checked_in.status_code == 200, checked_in.text

    def linked() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = http.get("/api/v1/me/activity", headers=client).json()["items"]
        found = [a for a in items if a["kind"] == "booking.checked_in" and a["subject_id"] == booking["id"]]
        return found or None

    (activity,) = wait_for(linked, timeout=60)
    assert activity["source"] == "booking"

    # A visit record names a client enterprise that exists; another enterprise's visits are not revealed.
    day = booking["start"][:10]  # in UTC: never after Beijing's today, as a visit's date must not be
    unknown = http.post(
        "/api/v1/visits",
        headers=lawyer,
        json={"enterprise_id": "no-such-enterprise", "date": day, "findings": "x"},
    )
    assert unknown.status_code == 422 and "enterprise_id" in {e["field"] for e in unknown.json()["errors"]}
    visit = http.post(
        "/api/v1/visits",
        headers=lawyer,
        json={"enterprise_id": enterprise_id, "date": day, "findings": "用工台账缺少加班记录"},
    )
    assert visit.status_code == 201, visit.text
    other = login(http, "client@demo.counsel.test")
    assert (
        http.get("/api/v1/visits", params={"enterprise_id": enterprise_id}, headers=other).status_code == 404
    )

    exported = http.get("/api/v1/me/export", headers=client).json()
    assert {"kind": "booking.checked_in", "subject_id": booking["id"]}.items() <= next(
        a for a in exported["activity"] if a["kind"] == "booking.checked_in"
    ).items()
    (exported_booking,) = exported["booking"]["bookings"]
    assert exported_booking["checked_in_at"] and exported_booking["address"] == ADDRESS
    assert visit.json()["id"] in {v["id"] for v in exported["booking"]["visits"]}

    assert http.delete("/api/v1/me", headers=client).status_code == 202
    prefix = platform.env["COUNSEL_DATABASE_PREFIX"]
    activities = asyncio.run(
        database_rows(
            postgres_server, f"{prefix}_identity", "SELECT kind FROM activities WHERE user_id = $1", user_id
        )
    )
    assert activities == []

    def address_erased() -> bool | None:
        rows = asyncio.run(
            database_rows(
                postgres_server,
                f"{prefix}_booking",
                "SELECT address FROM bookings WHERE id = $1",
                booking["id"],
            )
        )
        return rows[0]["address"] == ERASED_TEXT or None

    assert wait_for(address_erased, timeout=60)
