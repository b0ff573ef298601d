"""`counsel up` keeps the platform up (issue 19 item 2): a process or server killed with SIGKILL, as an
operator or the kernel's OOM killer would, is started again after a short backoff while every other process
goes on serving; `counsel status` counts the restart; no other process is stopped or restarted."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx

from deploy.local.launcher import StackProcess
from tests.support.journeys import wait_for


def _state(platform: StackProcess) -> dict[str, Any]:
    return dict(json.loads(platform.state_file.read_text()))


def test_a_killed_service_is_restarted_while_the_rest_keeps_serving(
    platform: StackProcess, http: httpx.Client
) -> None:
    before = _state(platform)
    victim = before["processes"]["notification"]["pid"]
    os.kill(victim, signal.SIGKILL)

    assert http.get("/api/v1/products").status_code == 200  # served by the gateway and the catalog
    assert http.get("/readyz").status_code == 200

    def restarted() -> dict[str, Any] | None:
        state = _state(platform)
        info = state["processes"]["notification"]
        return state if info["restarts"] == 1 and info["pid"] != victim else None

    after = wait_for(restarted, timeout=60)
    others = {name for name in before["processes"] if name != "notification"}
    assert {name: after["processes"][name]["pid"] for name in others} == {
        name: before["processes"][name]["pid"] for name in others
    }
    assert platform.running()
    assert "notification exited with signal SIGKILL; restarting in 1 s" in platform.log_tail(400)

    def healthy() -> dict[str, Any] | None:
        code, status = platform.status()
        return status if code == 0 else None

    status = wait_for(healthy, timeout=60)
    restarts = {entry["name"]: entry["restarts"] for entry in status["services"]}
    assert restarts["notification"] == 1
    assert sum(restarts.values()) == 1


def test_a_killed_nats_server_is_restarted_and_the_services_stay_ready(
    platform: StackProcess, http: httpx.Client
) -> None:
    """The stack's own NATS server, killed: the services stay in rotation (the outbox keeps their events
    until it is back) and none of them crashes; the supervisor starts NATS again on the same data."""
    before = _state(platform)
    nats = before["servers"]["nats"]
    os.kill(nats["pid"], signal.SIGKILL)
    verbose = http.get("/readyz?verbose=1").json()
    assert set(verbose["services"].values()) == {"SERVING"}

    def restarted() -> dict[str, Any] | None:
        state = _state(platform)
        return state if state["servers"]["nats"]["restarts"] >= 1 else None

    after = wait_for(restarted, timeout=60)
    assert after["servers"]["nats"]["pid"] != nats["pid"]
    assert {name: info["pid"] for name, info in after["processes"].items()} == {
        name: info["pid"] for name, info in before["processes"].items()
    }

    def healthy() -> dict[str, Any] | None:
        code, status = platform.status()
        return status if code == 0 else None

    status = wait_for(healthy, timeout=60)
    assert platform.env["COUNSEL_NATS_STREAM"] in status["nats"][0]["leader_of"]
