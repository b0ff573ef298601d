"""The walking-skeleton journey through every layer, over HTTP, against the whole platform started by
`counsel up` (every service, the worker and the gateway as their own processes) on the session's real
PostgreSQL and Temporal and the stack's own NATS. API.md is the contract; any 5xx fails the test."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import nats
import psutil
import pytest
from pydantic import SecretStr

from deploy.local.launcher import StackProcess
from deploy.local.servers import TemporalDevServer
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.events import BusRefused, connect_nats
from tests.support.journeys import login, wait_for


def test_readyz_reports_every_service_serving(http: httpx.Client) -> None:
    assert http.get("/readyz").json() == {"status": "ready"}
    body = http.get("/readyz?verbose=1").json()
    assert body["status"] == "ready"
    assert set(SERVICE_NAMES) <= set(body["services"])
    assert all(status == "SERVING" for status in body["services"].values())
    assert body["dependencies"] == {"postgres": "ok", "nats": "ok", "temporal": "ok"}
    assert http.get("/healthz").status_code == 200


def test_products_of_every_category_are_listed_from_the_catalog(http: httpx.Client) -> None:
    items = http.get("/api/v1/products", params={"limit": 100}).json()["items"]
    assert {p["category"] for p in items} == {"consultation", "document", "booking", "retainer"}
    documents = http.get("/api/v1/products", params={"category": "document"}).json()["items"]
    assert documents and all(p["category"] == "document" for p in documents)
    product = http.get(f"/api/v1/products/{documents[0]['id']}").json()
    tiers = {t["complexity"]: (t["delivery_hours"], t["revision_days"]) for t in product["tiers"]}
    assert tiers == {"simple": (24, 3), "standard": (48, 5), "complex": (72, 7)}  # R-DOC-3, R-DOC-5
    assert product["price"]["currency"] == "CNY" and isinstance(product["price"]["amount"], int)
    assert [stage["stage"] for stage in product["process"]][:2] == ["paid", "awaiting_acknowledgement"]


def test_a_submitted_consultation_is_stored_runs_its_workflow_and_notifies_the_client(
    http: httpx.Client, temporal_dev_server: TemporalDevServer, platform: StackProcess
) -> None:
    headers = login(http, "client@demo.counsel.test")
    created = http.post(
        "/api/v1/consultations",
        headers=headers,
        json={"kind": "general", "subject": "劳动合同试用期", "question": "试用期可以约定多久？"},
    )
    assert created.status_code == 201, created.text
    consultation = created.json()
    assert consultation["status"] == "submitted" and consultation["reply_due_at"] is None

    # The workflow records its first stage through the consultation service.
    def received() -> dict | None:
        body = http.get(f"/api/v1/consultations/{consultation['id']}", headers=headers).json()
        return body if any(stage["stage"] == "received" for stage in body["stages"]) else None

    assert wait_for(received)["id"] == consultation["id"]

    # The notification service consumed consultation.submitted and wrote the client's inbox entry.
    def notified() -> list[dict]:
        items = http.get("/api/v1/notifications", headers=headers).json()["items"]
        return [
            n
            for n in items
            if n["subject_id"] == consultation["id"] and n["kind"] == "consultation.submitted"
        ]

    entries = wait_for(notified)
    assert len(entries) == 1

    listed = http.get("/api/v1/consultations", headers=headers).json()["items"]
    assert consultation["id"] in {c["id"] for c in listed}


def test_creating_with_an_idempotency_key_is_safe_to_retry(http: httpx.Client) -> None:
    headers = login(http, "client@demo.counsel.test")
    body = {"kind": "general", "subject": "重复提交", "question": "网络断了，我再提交一次。"}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = http.post("/api/v1/consultations", headers=headers | key, json=body)
    again = http.post("/api/v1/consultations", headers=headers | key, json=body)
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.json()["id"] == first.json()["id"]
    other = http.post("/api/v1/consultations", headers=headers | key, json=body | {"question": "another"})
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")


def test_other_people_cannot_see_a_clients_consultation(http: httpx.Client) -> None:
    client = login(http, "client@demo.counsel.test")
    created = http.post(
        "/api/v1/consultations", headers=client, json={"kind": "general", "subject": "s", "question": "q"}
    )
    path = f"/api/v1/consultations/{created.json()['id']}"
    assert http.get(path, headers=login(http, "lawyer1@demo.counsel.test")).status_code == 404  # not assigned
    assert http.get(path).status_code == 401


def test_bad_input_gets_problem_json_naming_the_field(http: httpx.Client) -> None:
    headers = login(http, "client@demo.counsel.test")
    malformed = http.post(
        "/api/v1/consultations", headers=headers | {"content-type": "application/json"}, content=b"{"
    )
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")

    unknown = http.post(
        "/api/v1/consultations",
        headers=headers,
        json={"kind": "general", "subject": "s", "question": "q", "colour": "red"},
    )
    assert unknown.status_code == 422
    assert "colour" in {e["field"] for e in unknown.json()["errors"]}

    wrong_type = http.post(
        "/api/v1/consultations", headers=headers, json={"kind": 7, "subject": "s", "question": "q"}
    )
    assert wrong_type.status_code == 422
    assert "kind" in {e["field"] for e in wrong_type.json()["errors"]}

    professional = http.post(
        "/api/v1/consultations",
        headers=headers,
        json={"kind": "professional", "subject": "s", "question": "q"},
    )
    assert professional.status_code == 422  # R-CON-2: needs a paid order
    assert "order_id" in {e["field"] for e in professional.json()["errors"]}

    assert http.get("/api/v1/no-such-route").status_code == 404
    assert http.get("/api/v1/products", params={"category": "jewellery"}).status_code == 422
    assert http.get("/api/v1/products/no-such-product").status_code == 404
    bad_login = http.post(
        "/api/v1/auth/login",
        json={"method": "password", "identifier": "client@demo.counsel.test", "secret": "wrong"},
    )
    assert bad_login.status_code == 401


def test_counsel_status_reports_every_process_and_dependency_healthy(platform: StackProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "status"],
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reported = {line.split()[0] for line in result.stdout.splitlines() if line.strip()}
    assert {*SERVICE_NAMES, "worker", "gateway", "postgres", "nats", "temporal"} <= reported


def test_every_process_is_its_own_nats_user_and_nobody_gets_in_without_one(platform: StackProcess) -> None:
    """R-OPS-3: `counsel up` runs NATS with authorization on, on loopback, its configuration private: a
    connection without a user is refused; each process that connects was started with its own user and
    password (the worker and the portal, which never connect, with none); and payment's own credentials cannot publish
    identity's `user.erased` on the running platform. (Every journey of this tier runs on these users.)"""
    state = json.loads(platform.state_file.read_text())
    url = state["dependencies"]["nats"]
    assert url.startswith("nats://127.0.0.1:")
    assert (platform.data_dir / "nats" / "nats.conf").stat().st_mode & 0o777 == 0o600
    base = Settings(env="test", nats_url=url)
    with pytest.raises(BusRefused):
        asyncio.run(connect_nats(base, "anonymous"))

    credentials = {}
    for name, info in state["processes"].items():
        environ = psutil.Process(info["pid"]).environ()
        credentials[name] = (environ.get("COUNSEL_NATS_USER"), environ.get("COUNSEL_NATS_PASSWORD"))
    assert credentials.pop("worker") == (None, None)
    assert credentials.pop("portal") == (None, None)
    assert {name: user for name, (user, _) in credentials.items()} == {name: name for name in credentials}
    assert len({password for _, password in credentials.values()}) == len(credentials)

    async def payment_erases_someone() -> None:
        user, password = credentials["payment"]
        payment = base.model_copy(update={"nats_user": user, "nats_password": SecretStr(password or "")})
        nc = await connect_nats(payment, "e2e-payment")
        try:
            subject = f"{platform.env['COUNSEL_SUBJECT_ROOT']}.identity.user.erased"
            with pytest.raises(nats.errors.TimeoutError):
                await nc.jetstream().publish(subject, b"", timeout=1)
        finally:
            await nc.close()

    asyncio.run(payment_erases_someone())


def test_a_second_counsel_up_names_the_taken_port_instead_of_a_traceback(
    platform: StackProcess, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "deploy.cli", "up"],
        env=platform.env | {"COUNSEL_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    gateway_port = platform.base_url.rsplit(":", 1)[1]
    assert result.returncode == 2
    assert f"port {gateway_port} (gateway) is already in use" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_ctrl_c_stops_every_process_and_a_restart_finds_the_data(
    platform: StackProcess, http: httpx.Client
) -> None:
    headers = login(http, "client@demo.counsel.test")
    created = http.post(
        "/api/v1/consultations", headers=headers, json={"kind": "general", "subject": "留存", "question": "q"}
    )
    consultation_id = created.json()["id"]
    pids = [info["pid"] for info in json.loads(platform.state_file.read_text())["processes"].values()]

    assert platform.stop() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "did not stop" not in platform.log_tail(200)  # every process stopped gracefully on SIGTERM

    platform.start()
    headers = login(http, "client@demo.counsel.test")
    again = http.get(f"/api/v1/consultations/{consultation_id}", headers=headers)
    assert again.status_code == 200 and again.json()["subject"] == "留存"
