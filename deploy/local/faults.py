"""Faults injected into a running `counsel up --ha`, as an operator or a failing machine would: what the `ha`
test tier and `make chaos` (bench/chaos.py) do to the platform. Each one finds its victim in the stack's state
file (`<data dir>/run/stack.json`, what `counsel status` reads) and Patroni's or NATS's own view of who leads,
at the moment it strikes; each returns the name of what it hit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

from deploy.local.ha import cluster_members, postmaster_pid, stream_leader


class NoVictim(RuntimeError):
    """The fault has nothing to strike: no primary, no leader, no such process."""


def state_of(data_dir: Path) -> dict[str, Any]:
    return dict(json.loads((data_dir / "run" / "stack.json").read_text()))


def _servers(state: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: server for name, server in state["servers"].items() if server["kind"] == kind}


def _kill_group(pid: int | None) -> None:
    """kill -9 `pid`'s whole process group (every server and process runs in a session of its own)."""
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)


def _signal_node(server: dict[str, Any], sig: signal.Signals) -> None:
    """Signal every process of a PostgreSQL node: its Patroni, the postmaster and each of the postmaster's
    children — each backend is a process group of its own (PostgreSQL calls setsid), out of a group signal's
    reach, so a node is stopped or killed whole only process by process."""
    processes: list[psutil.Process] = []
    for pid in (server["pid"], postmaster_pid(Path(server["pgdata"]))):
        with contextlib.suppress(psutil.Error, TypeError):
            parent = psutil.Process(pid)
            processes += [parent, *parent.children(recursive=True)]
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.send_signal(sig)


def primary(state: dict[str, Any]) -> str:
    """The PostgreSQL node Patroni calls the leader now."""
    nodes = _servers(state, "postgres")
    for member in cluster_members([server["rest_url"] for server in nodes.values()]):
        if member.get("role") in ("leader", "primary") and member["name"] in nodes:
            return str(member["name"])
    raise NoVictim("the PostgreSQL cluster has no primary")


def kill_primary(state: dict[str, Any]) -> str:
    """kill -9 the primary's whole node: its Patroni and its postmaster's process group (a power cut)."""
    name = primary(state)
    _signal_node(_servers(state, "postgres")[name], signal.SIGKILL)
    return name


def kill_primary_postmaster(state: dict[str, Any]) -> str:
    """kill -9 the primary's postmaster alone (its backends notice and end; its Patroni lives on, restarts it
    or fails over)."""
    name = primary(state)
    postmaster = postmaster_pid(Path(_servers(state, "postgres")[name]["pgdata"]))
    if postmaster is None:
        raise NoVictim(f"{name} has no postmaster running")
    os.kill(postmaster, signal.SIGKILL)
    return name


def pause_primary(state: dict[str, Any], seconds: float) -> str:
    """SIGSTOP the primary's Patroni and postmaster for `seconds`, then SIGCONT: a node that hangs, not one
    that dies (its leader key expires while it sleeps). Blocks for `seconds`."""
    name = primary(state)
    server = _servers(state, "postgres")[name]
    _signal_node(server, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        _signal_node(server, signal.SIGCONT)
    return name


def switchover(state: dict[str, Any]) -> str:
    """A planned switchover (Patroni's REST API, as `patronictl switchover`) from the primary to a synchronous standby; returns the
    new primary's name."""
    nodes = _servers(state, "postgres")
    members = cluster_members([server["rest_url"] for server in nodes.values()])
    leader = primary(state)
    candidates = [m["name"] for m in members if m.get("role") == "sync_standby"]
    if not candidates:
        raise NoVictim("no synchronous standby to switch over to")
    body = json.dumps({"leader": leader, "candidate": candidates[0]}).encode()
    request = urllib.request.Request(f"{nodes[leader]['rest_url']}/switchover", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:  # Patroni answers once it is done
        if response.status != 200:
            raise RuntimeError(f"Patroni refused the switchover: {response.status} {response.read()!r}")
    return str(candidates[0])


def kill_stream_leader(state: dict[str, Any], stream: str) -> str:
    """kill -9 the NATS node that leads `stream`."""
    nodes = _servers(state, "nats")
    leader = stream_leader([server["monitor"] for server in nodes.values()], stream)
    if leader not in nodes:
        raise NoVictim(f"no NATS node leads {stream}")
    _kill_group(nodes[leader]["pid"])
    return leader


def kill_etcd_member(state: dict[str, Any], index: int = 0) -> str:
    """kill -9 one etcd member (the `index`-th, so a seeded schedule picks the same one)."""
    members = sorted(_servers(state, "etcd"))
    name = members[index % len(members)]
    _kill_group(state["servers"][name]["pid"])
    return name


def kill_process(state: dict[str, Any], name: str) -> str:
    """kill -9 a process of the platform (a service, `worker`, `gateway`, `portal`) or a server (`temporal`)."""
    entry = state["processes"].get(name) or state["servers"].get(name)
    if entry is None or entry.get("pid") is None:
        raise NoVictim(f"no running {name}")
    _kill_group(entry["pid"])
    return name
