"""10. The portal's render time (issue 22): server time of the product list, of a paid order's detail page
(its order, timeline and voucher read from the gateway, then rendered) and of a lawyer's workbench (their
queues and standing, refreshed in place while they wait for calls), one page at a time as a person's browser
asks, read from the portal's own Server-Timing header. Target p95 ≤ 150 ms on this machine."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
import uuid

import httpx

from bench.harness import Context, Figure

DEMO_CLIENT = "client@demo.counsel.test"
DEMO_LAWYER = "lawyer2@demo.counsel.test"
DEMO_PASSWORD = "Demo-Passw0rd!"
ORDERED = "consult-professional"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")
TARGET_MS = 150.0


async def _signed_in_portal(portal: httpx.AsyncClient, identifier: str) -> None:
    """Logs a demo user in through the portal's form, as a browser does (the session cookie is kept)."""
    page = await portal.get("/login")
    match = CSRF.search(page.text)
    assert match, "the login page has no CSRF token"
    answer = await portal.post(
        "/login",
        data={
            "csrf_token": match[1],
            "method": "password",
            "identifier": identifier,
            "secret": DEMO_PASSWORD,
            "next": "/",
        },
    )
    assert answer.status_code == 303, answer.text[:300]


async def _paid_order(api: httpx.AsyncClient) -> str:
    """A consultation order paid in the sandbox, once its voucher is issued: the order page's fullest state."""
    login = await api.post(
        "/api/v1/auth/login", json={"method": "password", "identifier": DEMO_CLIENT, "secret": DEMO_PASSWORD}
    )
    login.raise_for_status()
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    order = await api.post(
        "/api/v1/orders",
        headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
        json={"product_id": ORDERED, "requirements": {}},
    )
    order.raise_for_status()
    order_id = str(order.json()["id"])
    payment = await api.post(
        f"/api/v1/orders/{order_id}/payments",
        headers=headers | {"Idempotency-Key": uuid.uuid4().hex},
        json={"method": "sandbox"},
    )
    payment.raise_for_status()
    (await api.post(f"/api/v1/dev/sandbox-pay/{payment.json()['payment_id']}")).raise_for_status()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if (await api.get(f"/api/v1/orders/{order_id}/voucher", headers=headers)).status_code == 200:
            return order_id
        await asyncio.sleep(0.5)
    raise RuntimeError(f"order {order_id} got no voucher within 60 s")


def _p(values: list[float], percentile: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[percentile - 1]


async def _render_times(portal: httpx.AsyncClient, path: str, count: int) -> tuple[list[float], list[float]]:
    """(server ms, client ms) of `count` GETs of `path`, one after another, after a few to warm up."""
    server: list[float] = []
    client: list[float] = []
    for n in range(count + 5):
        started = time.perf_counter()
        response = await portal.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        match = SERVER_TIMING.search(response.headers.get("server-timing", ""))
        assert match, f"{path}: no Server-Timing header"
        if n >= 5:
            server.append(float(match[1]))
            client.append(elapsed)
    return server, client


async def bench_portal_render(ctx: Context) -> None:
    stack = ctx.stack
    portal_url = f"http://127.0.0.1:{stack.env['COUNSEL_PORTAL_PORT']}"
    count = int(ctx.scale(40, 300))
    async with (
        httpx.AsyncClient(base_url=stack.base_url, timeout=30) as api,
        httpx.AsyncClient(base_url=portal_url, timeout=30) as portal,
        httpx.AsyncClient(base_url=portal_url, timeout=30) as lawyer,
    ):
        order_id = await _paid_order(api)
        await _signed_in_portal(portal, DEMO_CLIENT)
        await _signed_in_portal(lawyer, DEMO_LAWYER)
        for name, browser, path in (
            ("product list", portal, "/products"),
            ("order detail", portal, f"/my/orders/{order_id}"),
            ("lawyer's workbench", lawyer, "/work"),
        ):
            server, client = await _render_times(browser, path, count)
            p95 = _p(server, 95)
            ctx.add(
                Figure(
                    "portal render",
                    f"p95 server render time, {name}",
                    p95,
                    "ms",
                    target=f"≤ {TARGET_MS:.0f} ms",
                    note=f"p50 {_p(server, 50):.1f} ms, p99 {_p(server, 99):.1f} ms, client-side p95 "
                    f"{_p(client, 95):.1f} ms; {count} pages one at a time"
                    + ("" if p95 <= TARGET_MS else "; ABOVE TARGET"),
                )
            )
