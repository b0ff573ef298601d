"""`make chaos` / `make chaos-quick` (issue 19 item 4): the platform on `counsel up --ha` under a steady mixed
load through the gateway, with seeded faults injected one scenario at a time, each repeated; after each
scenario an invariant checker reads the services' data. Per fault it reports the client-visible write
unavailability (first failed write after the fault to the first write that succeeded after it) and the p99
write latency during the recovery; results go to bench/results/chaos-<date>-<commit>.{md,json} in the
benchmarks' shape. Never part of `make test`.

The same --seed replays the same schedule: which scenarios, in which order, how long into the steady load
each fault strikes, which etcd member dies."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from bench.chaos_documents import CLIENT, REVIEWER, DocumentOrders, document_violations
from bench.harness import Figure
from bench.loadgen import percentile
from bench.run import RESULTS, write_results
from deploy.local import faults
from deploy.local.ha import running_database_url, stream_messages
from deploy.local.launcher import StackProcess, replicated_stack_env
from deploy.local.supervisor import STABLE_AFTER_SECONDS
from services.payment.tools import verify_ledger
from services.runtime.config import SERVICE_NAMES, load_settings
from services.runtime.db import asyncpg_dsn
from tests.support.journeys import CLIENT_PASSWORD, PASSWORD, PRIVACY_POLICY_VERSION, one_time_code
from workflows.shared import document_order_workflow_id, order_workflow_id

NAME = "chaos"
STREAM = NAME.upper()
# How long the load runs before a fault, at least and at most (the seed picks), and after it.
STEADY_SECONDS = (3.0, 8.0)
RECOVERY_SECONDS = 30.0
SIGSTOP_SECONDS = 20.0
SETTLE_TIMEOUT = 180.0
# An outbox row unpublished for this long after the settle wait is stuck; a younger one is in flight (the relay
# publishes within a round of its commit).
STALE_SECONDS = 30
HEALTHY_TIMEOUT = 300.0
# How long after a fault its victim has been restarted, at most (backoff and start), for the spacing of repeats.
RESTART_MARGIN_SECONDS = 15.0
# Meetings are held with a lawyer on duty around the clock (services/catalog/seed.py ON_CALL): their calendar
# always has free starts.
BOOKED_LAWYER = "lawyer-5"


@dataclass(frozen=True)
class Scenario:
    name: str
    repeats: int  # the count; --quick runs each once
    strike: Callable[[dict[str, Any], random.Random], str]
    target: str = ""  # the bound on the client-visible write unavailability


def _process(name: str) -> Callable[[dict[str, Any], random.Random], str]:
    return lambda state, _: faults.kill_process(state, name)


SCENARIOS = [
    Scenario("kill -9 PostgreSQL primary (Patroni + postmaster)", 10, lambda s, _: faults.kill_primary(s), "≤ 25 s"),
    Scenario("kill -9 PostgreSQL primary's postmaster", 3, lambda s, _: faults.kill_primary_postmaster(s), "≤ 10 s"),
    Scenario(f"SIGSTOP PostgreSQL primary {SIGSTOP_SECONDS:.0f} s", 3, lambda s, _: faults.pause_primary(s, SIGSTOP_SECONDS)),
    Scenario("planned switchover", 3, lambda s, _: faults.switchover(s), "≤ 5 s"),
    Scenario("kill -9 NATS stream leader", 10, lambda s, _: faults.kill_stream_leader(s, STREAM), "≤ 10 s"),
    Scenario("kill -9 one etcd member", 1, lambda s, rng: faults.kill_etcd_member(s, rng.randrange(3))),
    Scenario("kill -9 Temporal dev server", 1, _process("temporal")),
    Scenario("kill -9 workflow worker", 1, _process("worker")),
    Scenario("kill -9 gateway", 1, _process("gateway")),
    *(Scenario(f"kill -9 {service}", 1, _process(service)) for service in SERVICE_NAMES),
]  # fmt: skip


@dataclass
class Write:
    kind: str
    started: float
    ended: float
    ok: bool  # acknowledged (2xx)
    unavailable: bool  # no answer, or a 5xx: what a fault costs (a 4xx is the load's own, e.g. a rate limit)


@dataclass
class Load:
    """Clients writing through the gateway without pause: registrations (SMS code, register), orders paid with
    the sandbox (order, payment, sandbox confirmation), questions with a follow-up, meetings held in a
    lawyer's calendar, and document orders through review (bench/chaos_documents.py). Remembers every write
    and what was acknowledged."""

    base_url: str
    rng: random.Random
    writes: list[Write] = field(default_factory=list)
    users: set[str] = field(default_factory=set)  # acknowledged registrations
    orders: set[str] = field(default_factory=set)  # acknowledged orders
    paid: set[str] = field(default_factory=set)  # orders whose sandbox payment was acknowledged
    consultations: set[str] = field(default_factory=set)  # acknowledged questions
    follow_ups: int = 0  # acknowledged follow-up messages on them
    bookings: set[str] = field(default_factory=set)  # acknowledged holds
    documents: DocumentOrders = field(default_factory=DocumentOrders)
    tokens: dict[str, str] = field(default_factory=dict)  # demo account's e-mail → its access token

    async def _write(
        self, http: httpx.AsyncClient, kind: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = await http.post(path, **kwargs)
        except httpx.HTTPError:
            response = None
        ok = response is not None and response.status_code < 300
        unavailable = response is None or response.status_code >= 500
        self.writes.append(Write(kind, started, time.monotonic(), ok, unavailable))
        return response if ok else None

    async def auth(self, http: httpx.AsyncClient, email: str = CLIENT) -> dict[str, str]:
        """The Authorization header of the demo account `email`, signed in once (again after failures)."""
        if not self.tokens.get(email):
            with contextlib.suppress(httpx.HTTPError):  # the gateway may be down: the next write then fails
                response = await http.post(
                    "/api/v1/auth/login", json={"method": "password", "identifier": email, "secret": PASSWORD}
                )
                if response.status_code == 200:
                    self.tokens[email] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens.get(email, '')}"}

    async def register(self, http: httpx.AsyncClient) -> None:
        phone = f"139{self.rng.randrange(10**8):08d}"
        if (
            await self._write(http, "otp", "/api/v1/auth/otp", json={"channel": "sms", "destination": phone})
            is None
        ):
            return
        try:
            outbox = await http.get("/api/v1/dev/outbox", params={"to": phone})
        except httpx.HTTPError:
            return
        items = outbox.json().get("items") if outbox.status_code == 200 else None
        if not items:
            return
        body = {
            "phone": f"+86{phone}",
            "code": one_time_code(items[0]["body"]),
            "password": CLIENT_PASSWORD,
            "display_name": "混沌",
            "privacy_policy_version": PRIVACY_POLICY_VERSION,
            "enterprise_name": f"混沌{phone}",
        }
        registered = await self._write(http, "register", "/api/v1/auth/register", json=body)
        if registered is not None:
            self.users.add(registered.json()["user"]["id"])

    async def order_and_pay(self, http: httpx.AsyncClient, product: dict[str, Any]) -> None:
        auth = await self.auth(http)
        body = {"product_id": product["id"], "tier": product["tiers"][0]["id"], "requirements": {}}
        headers = auth | {"Idempotency-Key": uuid.uuid4().hex}
        order = await self._write(http, "order", "/api/v1/orders", headers=headers, json=body)
        if order is None:
            return
        order_id = order.json()["id"]
        self.orders.add(order_id)
        headers = auth | {"Idempotency-Key": uuid.uuid4().hex}
        payment = await self._write(
            http,
            "payment",
            f"/api/v1/orders/{order_id}/payments",
            headers=headers,
            json={"method": "sandbox"},
        )
        if payment is None:
            return
        paid = await self._write(
            http, "sandbox-pay", f"/api/v1/dev/sandbox-pay/{payment.json()['payment_id']}"
        )
        if paid is not None:
            self.paid.add(order_id)

    async def ask(self, http: httpx.AsyncClient) -> None:
        """A general question (no order needed), then the client's follow-up on it."""
        auth = await self.auth(http)
        body = {
            "kind": "general",
            "subject": "混沌测试",
            "question": "劳动合同到期不续签，需要支付经济补偿吗？",
        }
        asked = await self._write(
            http,
            "consultation",
            "/api/v1/consultations",
            headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
            json=body,
        )
        if asked is None:
            return
        consultation_id = asked.json()["id"]
        self.consultations.add(consultation_id)
        followed = await self._write(
            http,
            "follow-up",
            f"/api/v1/consultations/{consultation_id}/messages",
            headers=auth,
            json={"body": "补充：合同期三年。"},
        )
        self.follow_ups += followed is not None

    async def hold(self, http: httpx.AsyncClient, slots: list[dict[str, Any]]) -> None:
        """Hold a meeting at a free start of the on-call lawyer's calendar (another client may have taken it:
        a 409 is the load's own, not the fault's)."""
        auth = await self.auth(http)
        slot = self.rng.choice(slots)
        body = {
            "lawyer_id": BOOKED_LAWYER,
            "mode": "at_firm",
            "start": slot["start"],
            "minutes": 30,
            "needs": "混沌测试",
        }
        held = await self._write(
            http,
            "booking",
            "/api/v1/bookings",
            headers=auth | {"Idempotency-Key": uuid.uuid4().hex},
            json=body,
        )
        if held is not None:
            self.bookings.add(held.json()["id"])

    async def run(self, stop: asyncio.Event, clients: int = 4) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=30) as http:
            items = (await http.get("/api/v1/products", params={"category": "consultation"})).json()["items"]
            product = next(p for p in items if len(p["tiers"]) == 1)
            slots = (await http.get(f"/api/v1/lawyers/{BOOKED_LAWYER}/availability")).json()["items"]

            async def client() -> None:
                while not stop.is_set():
                    draw = self.rng.random()
                    if draw < 0.2:
                        await self.register(http)
                    elif draw < 0.4:
                        await self.ask(http)
                    elif draw < 0.5 and slots:
                        await self.hold(http, slots)
                    elif draw < 0.65:
                        await self.documents.drive(http, self._write, self.auth, self.rng)
                    else:
                        await self.order_and_pay(http, product)
                    if self.writes and not self.writes[-1].ok:
                        if self.rng.random() < 0.1:
                            self.tokens.clear()
                        await asyncio.sleep(0.2)

            await asyncio.gather(*(client() for _ in range(clients)))


@dataclass(frozen=True)
class Cost:
    """What one fault cost the clients."""

    window: float  # seconds from the first write to fail after the fault to the first to succeed after it
    ack_gap: float  # the longest time without an acknowledged write, from the fault on (writes that hang)
    p99_ms: float  # write latency during the recovery, writes in flight at the fault included
    failed: int  # writes that got no answer or a 5xx


def cost(writes: list[Write], struck_at: float, recovery_seconds: float) -> Cost:
    """The cost of a fault struck at `struck_at`, from the writes that ended after it (a write in flight when
    the fault struck is the fault's as much as one sent after it)."""
    after = sorted((w for w in writes if w.ended >= struck_at), key=lambda w: w.ended)
    failed = [w for w in after if w.unavailable]
    window = 0.0
    if failed:
        first_failure = failed[0].ended
        # No write succeeded again while the load ran: the window is at least the rest of the load.
        recovered = next((w.ended for w in after if w.ok and w.ended > first_failure), after[-1].ended)
        window = recovered - first_failure
    # From the fault through every acknowledgement to the end of the load: a wait that lasts until the load
    # stops is the longest of all.
    acks = [struck_at, *(w.ended for w in after if w.ok), after[-1].ended if after else struck_at]
    recovery = [w.ended - w.started for w in after if w.ended <= struck_at + recovery_seconds]
    return Cost(
        window=window,
        ack_gap=max(later - earlier for earlier, later in itertools.pairwise(acks)),
        p99_ms=percentile(recovery, 99) * 1000 if recovery else 0.0,
        failed=len(failed),
    )


class Checker:
    """The invariants of issue 19 item 4, read from the services' databases, JetStream and Temporal."""

    def __init__(self, stack: StackProcess, database_url: str, temporal_address: str) -> None:
        self.stack = stack
        self.database_url = database_url
        self.temporal_address = temporal_address

    async def _fetch(self, service: str, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(asyncpg_dsn(self.database_url, f"{NAME}_{service}"))
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def check(self, load: Load) -> dict[str, Any]:
        """Waits for the platform to settle (outboxes drained, every acknowledged payment applied), then
        returns each invariant's violations (0 = kept)."""
        started = time.monotonic()
        deadline = started + SETTLE_TIMEOUT
        while True:
            paid = {r["id"] for r in await self._fetch("payment", "SELECT id FROM orders WHERE id = ANY($1) AND status <> 'pending_payment'", list(load.paid))}  # fmt: skip
            pending = await self._unpublished()
            if (paid >= load.paid and pending == 0) or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        users = {r["id"] for r in await self._fetch("identity", "SELECT id FROM users WHERE id = ANY($1)", list(load.users))}  # fmt: skip
        orders = {r["id"] for r in await self._fetch("payment", "SELECT id FROM orders WHERE id = ANY($1)", list(load.orders))}  # fmt: skip
        paid_twice = await self._fetch(
            "payment",
            "SELECT order_id FROM payments WHERE status = 'paid' GROUP BY order_id HAVING count(*) > 1",
        )
        paid_orders = {r["id"] for r in await self._fetch("payment", "SELECT id FROM orders WHERE paid_payment_id <> ''")}  # fmt: skip
        entries = await self._fetch(
            "payment",
            "SELECT order_id, count(*) AS n FROM ledger_entries WHERE event = 'paid' GROUP BY order_id",
        )
        by_order = {r["order_id"]: r["n"] for r in entries}
        ledger = await verify_ledger(
            load_settings(env="test", database_url=self.database_url, database_prefix=NAME)
        )
        # The platform keeps writing events after the load stops (deliveries, timers, this checker's own
        # sign-in), so the three counts are read in an order that leaves no room for an event in flight:
        # every row published before the stream is counted is in it, every event in it has a row by then.
        published = await self._outbox_count("published_at IS NOT NULL")
        in_stream = stream_messages(faults.state_of(self.stack.data_dir), STREAM) or 0
        rows = await self._outbox_count("true")
        consultations = {r["id"] for r in await self._fetch("consultation", "SELECT id FROM consultations WHERE id = ANY($1)", list(load.consultations))}  # fmt: skip
        follow_ups = (await self._fetch("consultation", "SELECT count(*) AS n FROM consultation_messages WHERE consultation_id = ANY($1) AND author_role = 'client'", list(load.consultations)))[0]["n"]  # fmt: skip
        bookings = {r["id"] for r in await self._fetch("booking", "SELECT id FROM bookings WHERE id = ANY($1)", list(load.bookings))}  # fmt: skip
        async with httpx.AsyncClient(base_url=self.stack.base_url, timeout=60) as http:
            documents = await document_violations(
                load.documents, self._fetch, http, await load.auth(http, REVIEWER)
            )
        if in_flight := await self._unpublished():
            print(f"  settled after {time.monotonic() - started:.0f} s with {pending} outbox rows unpublished; {in_flight} now", flush=True)  # fmt: skip
            await self.explain_unpublished()
        unpublished = await self._outbox_count(f"published_at IS NULL AND created_at < now() - interval '{STALE_SECONDS} seconds'")  # fmt: skip
        return {
            "acknowledged writes lost": len(load.users - users)
            + len(load.orders - orders)
            + len(load.consultations - consultations)
            + max(load.follow_ups - follow_ups, 0)
            + len(load.bookings - bookings),
            "acknowledged payments not applied": len(load.paid - paid),
            "orders paid twice": len(paid_twice),
            "paid orders without exactly one paid ledger entry": sum(by_order.get(o, 0) != 1 for o in paid_orders),
            "ledger chain broken": int(ledger != 0),
            f"outbox rows unpublished for over {STALE_SECONDS} s": unpublished,
            "events in the stream beyond outbox rows (duplicates)": max(in_stream - rows, 0),
            "published outbox rows missing from the stream": max(published - in_stream, 0),
            "workflows disagreeing with their order": await self._workflows_disagreeing(load.orders),
            **documents,
            "workflows disagreeing with their document order": await self._document_workflows_disagreeing(
                set(load.documents.stage)
            ),
        }  # fmt: skip

    async def _unpublished(self) -> int:
        return await self._outbox_count("published_at IS NULL")

    async def _outbox_count(self, condition: str) -> int:
        """Outbox rows meeting `condition`, over every service."""
        total = 0
        for service in SERVICE_NAMES:
            total += (await self._fetch(service, f"SELECT count(*) AS n FROM outbox WHERE {condition}"))[0][
                "n"
            ]
        return total

    async def explain_unpublished(self) -> None:
        """Prints, while the stack still runs, what explains outbox rows left unpublished: the rows (their
        xmax names the transaction that locked them, if one did), every backend of the service's database
        (backend_xid against that xmax; client_port against the service process's sockets), the outbox's
        relation locks, the service process (pid, uptime, whether one of its connections ran the relay's
        SKIP LOCKED read lately) and its lines in the stack's log."""
        state = faults.state_of(self.stack.data_dir)
        for service in SERVICE_NAMES:
            rows = await self._fetch(service, "SELECT seq, subject, created_at, published_at, now() AS read_at, xmin, xmax FROM outbox WHERE published_at IS NULL ORDER BY seq")  # fmt: skip
            if not rows:
                continue
            print(f"  {service}: {len(rows)} outbox rows unpublished", flush=True)
            for row in rows:
                print(f"    row {dict(row)}", flush=True)
            activity = await self._fetch(service, "SELECT pid, client_port, backend_start, xact_start, state, state_change, backend_xid, application_name, left(query, 160) AS query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY backend_start")  # fmt: skip
            for backend in activity:
                print(f"    backend {dict(backend)}", flush=True)
            locks = await self._fetch(service, "SELECT l.pid, l.mode, l.granted FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'outbox'")  # fmt: skip
            print(f"    outbox locks {[dict(lock) for lock in locks]}", flush=True)
            pid = state["processes"].get(service, {}).get("pid")
            try:
                process = psutil.Process(pid)
                ports = {c.laddr.port for p in [process, *process.children(recursive=True)] for c in p.net_connections("tcp")}  # fmt: skip
                print(f"    process pid {pid}, up {time.time() - process.create_time():.0f} s, local ports {sorted(ports)}", flush=True)  # fmt: skip
            except (psutil.Error, TypeError) as exc:
                print(f"    process pid {pid}: {type(exc).__name__} {exc}", flush=True)
                ports = set()
            relaying = [b["pid"] for b in activity if b["client_port"] in ports and "SKIP LOCKED" in (b["query"] or "")]  # fmt: skip
            print(f"    its backends that ran the relay's read last: {relaying}", flush=True)
            mentions = [line for line in self.stack.log_tail(5000).splitlines() if service in line]
            print("    its log:\n      " + "\n      ".join(mentions[-40:]), flush=True)

    async def _workflows_disagreeing(self, order_ids: set[str]) -> int:
        """An order still pending or in service has its workflow running; a final one, a finished workflow."""
        status = {r["id"]: r["status"] for r in await self._fetch("payment", "SELECT id, status FROM orders WHERE id = ANY($1)", list(order_ids))}  # fmt: skip
        client = await Client.connect(self.temporal_address)
        disagreeing = 0
        for order_id, order_status in status.items():
            try:
                described = await client.get_workflow_handle(order_workflow_id(order_id)).describe()
            except RPCError:
                disagreeing += 1
                continue
            running = described.status == WorkflowExecutionStatus.RUNNING
            if running != (order_status in ("pending_payment", "paid", "in_service")):
                disagreeing += 1
        return disagreeing

    async def _document_workflows_disagreeing(self, document_order_ids: set[str]) -> int:
        """A completed document order's workflow has finished; any other's still runs. The workflow learns of
        an acceptance from the service's event, so a disagreement is read again until the settle time ends."""
        client = await Client.connect(self.temporal_address)
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            stages = {r["id"]: r["stage"] for r in await self._fetch("documents", "SELECT id, stage FROM document_orders WHERE id = ANY($1)", list(document_order_ids))}  # fmt: skip
            disagreeing = 0
            for order_id, stage in stages.items():
                try:
                    handle = client.get_workflow_handle(document_order_workflow_id(order_id))
                    running = (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
                except RPCError:
                    running = None
                disagreeing += running is None or running == (stage == "completed")
            if disagreeing == 0 or time.monotonic() > deadline:
                return disagreeing
            await asyncio.sleep(2)


async def _until_healthy(stack: StackProcess) -> tuple[float, list[str]]:
    """Seconds until `counsel status` says every node and process is healthy again, and what was still not
    when HEALTHY_TIMEOUT ran out (empty when everything recovered): the next fault then strikes a platform
    that has not fully recovered, which its figures say."""
    started = time.monotonic()
    unhealthy: list[str] = ["counsel status did not answer"]
    while time.monotonic() - started < HEALTHY_TIMEOUT:
        try:
            code, status = await asyncio.to_thread(stack.status)
        except (subprocess.SubprocessError, ValueError):
            code, status = 1, {}
        if code == 0:
            return time.monotonic() - started, []
        if status:
            unhealthy = _unhealthy(status)
        await asyncio.sleep(1)
    return time.monotonic() - started, unhealthy


def _unhealthy(status: dict[str, Any]) -> list[str]:
    """The names `counsel status --json` reports unhealthy, with their state."""
    nodes = [*status["services"], *status["postgres"], *status["nats"], *status["etcd"], status["temporal"]]
    return [
        *(f"{n.get('name')} ({n.get('state') or n.get('role')})" for n in nodes if not n.get("healthy")),
        *(f"{name} given up" for name in status.get("given_up", [])),
        *(
            f"{name} as the services see it: {health}"
            for name, health in status["dependencies"].items()
            if health != "ok"
        ),
    ]


async def run_chaos(seed: int, quick: bool, only: str, results: Path) -> Path:
    rng = random.Random(seed)
    data_dir = Path(tempfile.mkdtemp(prefix="counsel-chaos-"))
    env = replicated_stack_env(NAME, data_dir, secrets.token_urlsafe(48))
    env |= {
        "COUNSEL_LOG_LEVEL": "WARNING",
        **dict.fromkeys(
            ["COUNSEL_GATEWAY_RATE_PER_IP", "COUNSEL_GATEWAY_RATE_PER_TOKEN",
             "COUNSEL_GATEWAY_BURST_PER_IP", "COUNSEL_GATEWAY_BURST_PER_TOKEN"],
            "1000000",
        ),
    }  # fmt: skip
    stack = StackProcess.replicated(env, data_dir)
    figures: list[Figure] = []
    scenarios = [s for s in SCENARIOS if only.lower() in s.name.lower()]
    schedule = [(s, n) for s in scenarios for n in range(1 if quick else s.repeats)]
    print(f"chaos seed {seed}: {len(schedule)} faults; rerun with --seed {seed}", flush=True)
    environment = {"seed": seed, "quick": quick, "topology": "counsel up --ha", "scenarios": len(scenarios)}
    written = results
    try:
        stack.start(timeout=300)
        temporal_address = f"127.0.0.1:{env['COUNSEL_LOCAL_TEMPORAL_PORT']}"
        checker = Checker(stack, running_database_url(data_dir), temporal_address)
        for scenario in scenarios:
            try:
                figures += await _scenario(scenario, schedule, rng, stack, checker)
            except Exception as exc:  # a scenario reports, it never stops the others
                traceback.print_exc()
                figures.append(
                    Figure("chaos", scenario.name, None, "", note=f"failed: {type(exc).__name__}: {exc}")
                )
                _, unhealthy = await _until_healthy(stack)
                if unhealthy:
                    print(f"  still unhealthy after {HEALTHY_TIMEOUT:.0f} s: {unhealthy}", flush=True)
            # After each scenario, so that a run cut short (it takes an hour) still leaves what it measured.
            written = write_results(figures, quick, environment, results, prefix="chaos-")
    finally:
        if stack.running():
            stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return written


async def _scenario(
    scenario: Scenario,
    schedule: list[tuple[Scenario, int]],
    rng: random.Random,
    stack: StackProcess,
    checker: Checker,
) -> list[Figure]:
    """Every run of `scenario` in the schedule under a fresh load, then the invariants: its figures."""
    runs = [n for s, n in schedule if s is scenario]
    costs: list[Cost] = []
    not_recovered: list[str] = []  # faults after which the platform was not healthy within HEALTHY_TIMEOUT
    load = Load(stack.base_url, random.Random(rng.random()))
    struck_at = -STABLE_AFTER_SECONDS
    for n in runs:
        # Each repeat strikes a platform whose restarted processes have run long enough for the supervisor to
        # count them stable again: repeats closer together are a crash loop, which its backoff (and, after a
        # few, giving up) answers — another scenario than the one measured here.
        await asyncio.sleep(
            max(0.0, struck_at + STABLE_AFTER_SECONDS + RESTART_MARGIN_SECONDS - time.monotonic())
        )
        stop = asyncio.Event()
        driving = asyncio.create_task(load.run(stop))
        await asyncio.sleep(rng.uniform(*STEADY_SECONDS))
        struck_at = time.monotonic()
        victim = await asyncio.to_thread(scenario.strike, faults.state_of(stack.data_dir), rng)
        await asyncio.sleep(RECOVERY_SECONDS)
        stop.set()
        await driving
        costs.append(cost(load.writes, struck_at, RECOVERY_SECONDS))
        healthy_after, unhealthy = await _until_healthy(stack)
        if unhealthy:
            not_recovered.append(f"#{n + 1}: {', '.join(unhealthy)}")
            print(f"  still unhealthy after {healthy_after:.0f} s: {unhealthy}", flush=True)
        c = costs[-1]
        print(f"  {scenario.name} #{n + 1} ({victim}): unavailable {c.window:.1f} s, longest wait for an "
              f"acknowledgement {c.ack_gap:.1f} s, p99 {c.p99_ms:.0f} ms, {c.failed} failed writes; healthy "
              f"again after {healthy_after:.0f} s", flush=True)  # fmt: skip
    violations = await checker.check(load)
    broken = {k: v for k, v in violations.items() if v}
    acknowledged = len(load.users) + len(load.orders) + len(load.consultations) + len(load.bookings)
    documents = load.documents.stage
    completed = sum(stage == "completed" for stage in documents.values())
    print(f"  invariants after {scenario.name}: {broken or 'all kept'}", flush=True)
    return [
        Figure("chaos", f"{scenario.name} ×{len(runs)}: worst write unavailability (first failed → first ok)",
               max(c.window for c in costs), "s", target=scenario.target,
               note=f"{sum(c.failed for c in costs)} writes failed (no answer or 5xx) of {len(load.writes)}"
                    + (f"; not healthy {HEALTHY_TIMEOUT:.0f} s after {'; '.join(not_recovered)}" if not_recovered else "")),
        Figure("chaos", f"{scenario.name}: worst gap between acknowledged writes", max(c.ack_gap for c in costs), "s",
               target=scenario.target, note="writes that hang count here; 4 clients writing without pause"),
        Figure("chaos", f"{scenario.name}: p99 write latency in recovery", max(c.p99_ms for c in costs), "ms",
               note=f"the first {RECOVERY_SECONDS:.0f} s after the fault"),
        Figure("chaos", f"{scenario.name}: invariants", 0.0 if broken else 1.0,
               "VIOLATED" if broken else "ok", target="0 lost, 0 duplicated",
               note=(json.dumps(broken, ensure_ascii=False) if broken else
                     f"{acknowledged} acknowledged registrations, orders, questions (+{load.follow_ups} follow-ups) "
                     f"and meeting holds, {len(load.paid)} paid; {len(documents)} document orders ({completed} "
                     f"through review to acceptance, {len(load.documents.drafts)} drafts); all present, each paid "
                     "once, ledger intact, outbox published once, version bytes match their SHA-256, workflows "
                     "agree")),
    ]  # fmt: skip


async def _run_until_terminated(seed: int, quick: bool, only: str, results: Path) -> Path:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_chaos(seed, quick, only, results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=None, help="replay a schedule (printed at the start)")
    parser.add_argument(
        "--quick", action="store_true", help="each scenario once instead of the issue's counts"
    )
    parser.add_argument("--only", default="", help="only the scenarios whose name contains this text")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    with contextlib.suppress(KeyboardInterrupt):
        path = asyncio.run(_run_until_terminated(seed, args.quick, args.only, args.results_dir))
        print(f"\nresults: {path}\n{path.read_text()}")


if __name__ == "__main__":
    main()
