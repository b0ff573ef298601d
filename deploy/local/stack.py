"""`counsel up` and `counsel status`: the whole platform on one machine, every process its own.

Servers come from PyPI packages (PostgreSQL, NATS JetStream, the Temporal dev server) unless
COUNSEL_DATABASE_URL / COUNSEL_NATS_URL / COUNSEL_TEMPORAL_ADDRESS point elsewhere. Everything lives in
COUNSEL_DATA_DIR (default ./.counsel), so a restart finds its users, orders and running workflows."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, NoReturn

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.backup import archive_settings, backups_dir, prepare_archive, wal_archive
from deploy.local.backup_schedule import BackupSchedule, backup_status
from deploy.local.bootstrap import migrate_all, provision_bus, seed_all, wait_for_lawyer_copies
from deploy.local.ha import NODES, Ports, cluster_members, etcd_role, postmaster_pid, start_topology, topology
from deploy.local.servers import (
    ManagedProcess,
    NatsServer,
    PostgresServer,
    ServerStartError,
    TemporalDevServer,
    port_in_use,
)
from deploy.local.supervisor import Restarts, exit_reason
from deploy.nats_auth import AUDIT, MIGRATE, NATS_USERS, authorization_block
from deploy.terminal import BOLD, GREEN, RED, YELLOW, paint
from services.gateway.config import GatewaySettings
from services.portal.config import PortalSettings
from services.runtime.config import SERVICE_NAMES, Settings, load_settings
from services.runtime.pki import LocalAuthority, TlsFiles, TlsMaterial

# Processes that answer HTTP (GET /healthz) rather than gRPC health, on COUNSEL_<NAME>_PORT.
HTTP_PROCESSES = ("gateway", "portal")
COLORS = ["36", "32", "33", "35", "34", "96", "92", "93", "95", "94"]
READY_TIMEOUT = 120.0
# Each process drains in a second or two; the margin is for a heavily loaded machine.
STOP_GRACE_SECONDS = 30.0


@dataclass
class Child:
    name: str
    argv: list[str]
    port: int | None = None  # gRPC port (services) or HTTP port (gateway)
    process: subprocess.Popen[bytes] | None = None
    color: str = "0"
    reader: threading.Thread | None = field(default=None, repr=False)


def say(message: str) -> None:
    print(f"{paint('counsel', BOLD)}  {message}", flush=True)


def _port(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def _format_line(raw: str) -> str:
    """JSON log lines shown compactly: level, message and the interesting fields."""
    try:
        entry = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(entry, dict):
        return raw
    skip = {"ts", "level", "process", "logger", "msg"}
    extras = " ".join(f"{k}={v}" for k, v in entry.items() if k not in skip and k != "exc")
    text = f"{entry.get('level', ''):<7} {entry.get('msg', '')} {extras}".rstrip()
    if "exc" in entry:
        text += "\n" + str(entry["exc"])
    return text


def _pump(child: Child, stream: IO[bytes]) -> None:
    prefix = paint(f"{child.name:>12} |", child.color) + " "
    for line in iter(stream.readline, b""):
        print(prefix + _format_line(line.decode(errors="replace").rstrip()), flush=True)


def local_settings(**overrides: object) -> Settings:
    """Settings of the local stack: COUNSEL_ENV defaults to dev here (not prod, the default everywhere
    else), so `counsel up` gets the dev outbox, sandbox payments and its generated secret key."""
    overrides.setdefault("env", os.environ.get("COUNSEL_ENV") or "dev")
    return load_settings(**overrides)


def _secret_key(data_dir: Path) -> str:
    """The local stack's COUNSEL_SECRET_KEY, created once (mode 0600) and kept with the data."""
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def _pki_dir(data_dir: Path) -> Path:
    """The local authority and every process's certificate (services/runtime/pki.py)."""
    return data_dir / "run" / "pki"


def identity_files(data_dir: Path, process: str) -> TlsFiles:
    """Where `counsel up` keeps the mutual-TLS identity of `process`."""
    pki = _pki_dir(data_dir)
    return TlsFiles(pki / "ca.pem", pki / f"{process}.pem", pki / f"{process}.key")


def operator_files(data_dir: Path) -> TlsFiles:
    """Where `counsel up` keeps the `operator` identity: what `counsel status` and the operator commands
    (`counsel documents cancel`) call the services with."""
    return identity_files(data_dir, "operator")


def audit_password_file(data_dir: Path) -> Path:
    """Where `counsel up` keeps the password of its NATS server's `audit` user (0600), for `counsel audit
    verify`: COUNSEL_NATS_USER=audit COUNSEL_NATS_PASSWORD=$(cat .counsel/nats/audit.password)."""
    return data_dir / "nats" / "audit.password"


def operator_tls(data_dir: Path) -> TlsMaterial:
    return operator_files(data_dir).read()


def _grpc_serving(port: int, tls: TlsMaterial, timeout: float = 1.0) -> str:
    credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=timeout
            )
        except grpc.RpcError as exc:
            return exc.code().name  # type: ignore[no-any-return]
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def _http_status(url: str, timeout: float = 2.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(ValueError):
            return exc.code, json.loads(exc.read() or b"null")
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


class Stack:
    def __init__(self, settings: Settings, *, ha: bool = False) -> None:
        self.settings = settings
        # The ports the gateway and the portal will read from the same environment, under their own settings.
        self.firm_grpc_port = GatewaySettings.from_settings(settings).firm_grpc_port
        self.portal_port = PortalSettings.from_settings(settings).portal_port
        # `counsel up --ha`: PostgreSQL, etcd and NATS three of each (deploy/local/ha.py); Temporal stays one.
        self.ha = ha
        self.data_dir = settings.data_dir.resolve()
        self.servers: dict[str, ManagedProcess] = {}
        self.children: list[Child] = []
        # Every process and server the supervisor restarts, by name (see supervise()).
        self.restarts: dict[str, Restarts] = {}
        self.env: dict[str, str] = {}
        self.identities: dict[str, TlsFiles] = {}
        # Each process's password on the NATS server this stack started (fresh at every start); empty with an
        # external NATS (COUNSEL_NATS_URL), whose credentials come from the environment.
        self.nats_passwords: dict[str, str] = {}
        self.stopping = False
        # Only the servers the stack runs itself can be backed up from here (deploy/local/backup.py).
        self.backups = BackupSchedule(
            self.data_dir,
            timedelta(hours=settings.local_backup_every_hours) if not settings.database_url else timedelta(0),
            settings.local_backup_keep,
            say,
        )

    # -- start ---------------------------------------------------------------------------------------
    def plan(self) -> None:
        s = self.settings
        for i, service in enumerate(SERVICE_NAMES):
            self.children.append(
                Child(service, ["serve", service], _port(s.peer_addr(service)), color=COLORS[i])
            )
        self.children.append(Child("worker", ["worker"], None, color=COLORS[7]))
        self.children.append(Child("gateway", ["gateway"], s.gateway_port, color=COLORS[8]))
        self.children.append(Child("portal", ["portal"], self.portal_port, color=COLORS[9]))

    def check_ports(self) -> list[str]:
        """Every port this run would bind that is already taken, as readable lines."""
        s = self.settings
        wanted: list[tuple[int, str, str]] = []
        if self.ha:
            ports = ha_ports(s)
            for what, base, variable in (
                ("PostgreSQL", ports.postgres, "COUNSEL_LOCAL_POSTGRES_PORT"),
                ("Patroni REST API", ports.patroni, "COUNSEL_LOCAL_PATRONI_PORT"),
                ("etcd", ports.etcd, "COUNSEL_LOCAL_ETCD_PORT"),
                ("etcd peers", ports.etcd_peer, "COUNSEL_LOCAL_ETCD_PEER_PORT"),
                ("NATS", ports.nats, "COUNSEL_LOCAL_NATS_PORT"),
                ("NATS monitoring", ports.nats_monitor, "COUNSEL_LOCAL_NATS_MONITOR_PORT"),
                ("NATS cluster routes", ports.nats_cluster, "COUNSEL_LOCAL_NATS_CLUSTER_PORT"),
            ):
                for node, port in enumerate(ports.of(base), 1):
                    wanted.append(
                        (port, f"{what}, node {node} of 3", f"{variable}: --ha uses it and the next two")
                    )
        if not s.database_url and not self.ha:
            wanted.append((s.local_postgres_port, "PostgreSQL", "COUNSEL_LOCAL_POSTGRES_PORT"))
        if "COUNSEL_NATS_URL" not in os.environ and not self.ha:
            wanted.append((s.local_nats_port, "NATS", "COUNSEL_LOCAL_NATS_PORT"))
            wanted.append((s.local_nats_monitor_port, "NATS monitoring", "COUNSEL_LOCAL_NATS_MONITOR_PORT"))
        if "COUNSEL_TEMPORAL_ADDRESS" not in os.environ:
            wanted.append((s.local_temporal_port, "Temporal", "COUNSEL_LOCAL_TEMPORAL_PORT"))
            wanted.append((s.local_temporal_ui_port, "Temporal UI", "COUNSEL_LOCAL_TEMPORAL_UI_PORT"))
        if self.firm_grpc_port:
            wanted.append((self.firm_grpc_port, "the firm endpoint", "COUNSEL_FIRM_GRPC_PORT"))
        for child in self.children:
            if child.port:
                variable = (
                    f"COUNSEL_{child.name.upper()}_PORT"
                    if child.name in HTTP_PROCESSES
                    else f"COUNSEL_{child.name.upper()}_ADDR"
                )
                wanted.append((child.port, child.name, variable))
            metrics = s.metrics_port_for(child.name)
            if metrics:
                wanted.append((metrics, f"{child.name} metrics", "COUNSEL_METRICS_PORT"))
        return [
            f"port {port} ({what}) is already in use — is counsel already running? (`counsel status`; or set {variable})"
            for port, what, variable in wanted
            if port_in_use(port)
        ]

    def start_servers(self) -> None:
        s = self.settings
        self.env = {
            "COUNSEL_DATA_DIR": str(self.data_dir),
            "COUNSEL_SECRET_KEY": s.secret_key or _secret_key(self.data_dir),
        }
        if self.ha:
            self._start_topology()
        database_url = self.env.get("COUNSEL_DATABASE_URL") or s.database_url
        if not database_url:
            say(f"starting PostgreSQL on 127.0.0.1:{s.local_postgres_port} …")
            archive = wal_archive(backups_dir(self.data_dir))
            prepare_archive(archive)
            postgres = PostgresServer(
                self.data_dir / "postgres",
                s.local_postgres_port,
                parameters=archive_settings(archive),
            )
            postgres.start()
            self.servers["postgres"] = postgres
            database_url = postgres.url
        self.env["COUNSEL_DATABASE_URL"] = database_url
        nats_url = self.env.get("COUNSEL_NATS_URL") or os.environ.get("COUNSEL_NATS_URL", "")
        if not nats_url:
            say(f"starting NATS JetStream on 127.0.0.1:{s.local_nats_port} (a user per process) …")
            self._new_nats_passwords()
            nats_server = NatsServer(
                self.data_dir / "nats",
                s.local_nats_port,
                monitor_port=s.local_nats_monitor_port,
                authorization=authorization_block(s, self.nats_passwords),
            )
            nats_server.start()
            self.servers["nats"] = nats_server
            nats_url = nats_server.url
        self.env["COUNSEL_NATS_URL"] = nats_url
        temporal_address = os.environ.get("COUNSEL_TEMPORAL_ADDRESS", "")
        if not temporal_address:
            say(
                f"starting the Temporal dev server on 127.0.0.1:{s.local_temporal_port} (UI :{s.local_temporal_ui_port}) …"
            )
            temporal = TemporalDevServer(
                self.data_dir / "temporal", s.local_temporal_port, ui_port=s.local_temporal_ui_port
            )
            temporal.start()
            self.servers["temporal"] = temporal
            temporal_address = temporal.address
        self.env["COUNSEL_TEMPORAL_ADDRESS"] = temporal_address

    def _start_topology(self) -> None:
        """The replicated servers of `--ha` (deploy/local/ha.py), under data_dir/ha, so a single-node run on
        the same data folder never mixes with them; the processes get every node's address."""
        self._new_nats_passwords()
        archive = wal_archive(backups_dir(self.data_dir))
        prepare_archive(archive)
        topo = topology(
            self.data_dir / "ha",
            ha_ports(self.settings),
            authorization_block(self.settings, self.nats_passwords),
            archive_settings(archive),
        )
        for server in topo.servers:
            self.servers[server.name] = server
        start_topology(topo, say)
        self.env["COUNSEL_DATABASE_URL"] = topo.database_url
        self.env["COUNSEL_NATS_URL"] = topo.nats_url
        self.env["COUNSEL_JETSTREAM_REPLICAS"] = str(NODES)

    def bootstrap_settings(self) -> Settings:
        """The settings of the stack's own bootstrap steps (as the `migrate` user on its NATS)."""
        return local_settings(
            database_url=self.env["COUNSEL_DATABASE_URL"],
            secret_key=self.env["COUNSEL_SECRET_KEY"],
            nats_url=self.env["COUNSEL_NATS_URL"],
            jetstream_replicas=int(
                self.env.get("COUNSEL_JETSTREAM_REPLICAS") or self.settings.jetstream_replicas
            ),
            **self._nats_credentials(MIGRATE),
        )

    def bootstrap(self) -> None:
        settings = self.bootstrap_settings()
        say("migrating every service's database …")
        asyncio.run(migrate_all(settings))
        say("creating the event stream, buckets and consumers …")
        asyncio.run(provision_bus(settings))
        say("loading demo data …")
        asyncio.run(seed_all(settings))

    def issue_identities(self) -> None:
        """A certificate for each process (and `operator`, for `counsel status` and the operator tools),
        fresh at every start, from the stack's own authority."""
        authority = LocalAuthority(_pki_dir(self.data_dir))
        for name in [child.name for child in self.children] + ["operator"]:
            self.identities[name] = authority.issue(name)

    def process_env(self) -> dict[str, str]:
        """The environment of every process the stack starts. COUNSEL_ENV is always set, to the stack's own
        (dev unless given): a process without it would run as prod."""
        return {**os.environ, **self.env, "COUNSEL_ENV": self.settings.env, "PYTHONUNBUFFERED": "1"}

    def _new_nats_passwords(self) -> None:
        """Fresh passwords for every NATS user of the stack's own server; the `audit` user's is kept for the
        operator's `counsel audit verify` (audit_password_file), which is no process of the stack."""
        self.nats_passwords = {process: secrets.token_urlsafe(24) for process in NATS_USERS}
        path = audit_password_file(self.data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(self.nats_passwords[AUDIT])

    def _nats_credentials(self, process: str) -> dict[str, str]:
        """Settings overrides naming `process`'s user on the stack's own NATS server (none with an external
        one: the environment's COUNSEL_NATS_USER/PASSWORD, if any, then apply)."""
        if not self.nats_passwords:
            return {}
        return {"nats_user": process, "nats_password": self.nats_passwords[process]}

    def child_env(self, name: str) -> dict[str, str]:
        """The environment of the process `name`: the stack's, plus its own certificate and, on the stack's own
        NATS server, its own NATS user and password (the worker and the portal, which never connect, get none)."""
        env = self.process_env()
        identity = self.identities[name]
        env["COUNSEL_TLS_CA_FILE"] = str(identity.ca_file)
        env["COUNSEL_TLS_CERT_FILE"] = str(identity.cert_file)
        env["COUNSEL_TLS_KEY_FILE"] = str(identity.key_file)
        if self.nats_passwords:
            env.pop("COUNSEL_NATS_USER", None)
            env.pop("COUNSEL_NATS_PASSWORD", None)
            if name in self.nats_passwords:
                env["COUNSEL_NATS_USER"] = name
                env["COUNSEL_NATS_PASSWORD"] = self.nats_passwords[name]
        if (
            name == "worker"
            and "COUNSEL_TEMPORAL_METRICS_PORT" not in os.environ
            and self.settings.metrics_port != 0
        ):
            env["COUNSEL_TEMPORAL_METRICS_PORT"] = str(self.settings.metrics_port_for("worker") + 1)
        return env

    def spawn(self) -> None:
        for child in self.children:
            self.spawn_child(child)

    def spawn_child(self, child: Child) -> None:
        child.process = subprocess.Popen(
            [sys.executable, "-m", "deploy.cli", *child.argv],
            env=self.child_env(child.name),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        assert child.process.stdout is not None
        child.reader = threading.Thread(target=_pump, args=(child, child.process.stdout), daemon=True)
        child.reader.start()

    def wait_ready(self) -> None:
        operator = self.identities["operator"].read()
        deadline = time.monotonic() + READY_TIMEOUT
        pending = {c.name for c in self.children}
        while pending:
            for child in self.children:
                if child.name not in pending:
                    continue
                self._check_alive(child)
                if (
                    child.name == "worker"
                    or (
                        child.name in HTTP_PROCESSES
                        and _http_status(f"http://127.0.0.1:{child.port}/healthz")[0] == 200
                    )
                    or (
                        child.port
                        and child.name not in HTTP_PROCESSES
                        and _grpc_serving(child.port, operator) == "SERVING"
                    )
                ):
                    pending.discard(child.name)
                    say(f"  ✓ {child.name} ready ({len(self.children) - len(pending)}/{len(self.children)})")
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not ready after {READY_TIMEOUT:.0f}s: {', '.join(sorted(pending))}")
            time.sleep(0.3)

    def _check_alive(self, child: Child) -> None:
        if child.process is not None and child.process.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited with code {child.process.returncode} (see its log lines above)"
            )

    def supervise(self) -> NoReturn:
        """Keep every process and server running until Ctrl-C: one that dies is started again after a
        backoff (deploy/local/supervisor.py), or given up after repeated crashes, while the others go on."""
        self.restarts = {name: Restarts() for name in [*self.servers, *(c.name for c in self.children)]}
        while True:
            changed = False
            for name, server in self.servers.items():
                changed |= self._tend(name, server.exit_code(), server.start)
            for child in self.children:
                assert child.process is not None
                changed |= self._tend(
                    child.name, child.process.poll(), functools.partial(self.spawn_child, child)
                )
            if changed:
                self.write_state()
            self.backups.tend(datetime.now(UTC))
            time.sleep(0.5)

    def _tend(self, name: str, exit_code: int | None, start: Callable[[], None]) -> bool:
        """Notice that `name` died, or restart it when its backoff is over. True when its state changed."""
        restarts = self.restarts[name]
        now = time.monotonic()
        if exit_code is None or restarts.gave_up:
            return False
        if restarts.due_at is None:
            delay = restarts.crashed(now)
            if delay is None:
                say(
                    paint(
                        f"{name} exited with {exit_reason(exit_code)} after {restarts.crashes_in_a_row - 1} "
                        "restarts in quick succession; giving up on it (the rest keeps running)",
                        RED,
                    )
                )
            else:
                say(
                    paint(f"{name} exited with {exit_reason(exit_code)}; restarting in {delay:.0f} s", YELLOW)
                )
            return True
        if not restarts.due(now):
            return False
        try:
            start()
        except (ServerStartError, OSError) as exc:
            say(paint(f"{name} did not start again: {exc}", RED))
            restarts.started_at = now  # a failed start counts as a crash straight after starting
            restarts.due_at = None
            return False
        restarts.restarted(now)
        say(f"{name} restarted (restart #{restarts.count})")
        return True

    def write_state(self) -> None:
        restarts = {name: r.count for name, r in self.restarts.items()}
        given_up = sorted(name for name, r in self.restarts.items() if r.gave_up)
        state = {
            "pid": os.getpid(),
            "gateway": f"http://127.0.0.1:{self.settings.gateway_port}",
            "portal": f"http://127.0.0.1:{self.portal_port}",
            "firm_endpoint": f"127.0.0.1:{self.firm_grpc_port}" if self.firm_grpc_port else "",
            "processes": {
                c.name: {
                    "pid": c.process.pid if c.process else None,
                    "port": c.port,
                    "restarts": restarts.get(c.name, 0),
                }
                for c in self.children
            },
            "servers": {
                name: {**server.describe(), "restarts": restarts.get(name, 0)}
                for name, server in self.servers.items()
            },
            "given_up": given_up,
            "dependencies": {
                "postgres": self.env["COUNSEL_DATABASE_URL"].rsplit("@", 1)[-1],
                "nats": self.env["COUNSEL_NATS_URL"],
                "temporal": self.env["COUNSEL_TEMPORAL_ADDRESS"],
            },
        }
        run_dir = self.data_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "stack.json").write_text(json.dumps(state, indent=2))

    def print_urls(self) -> None:
        base = f"http://127.0.0.1:{self.settings.gateway_port}"
        say("counsel is up:")
        print(f"    portal         http://127.0.0.1:{self.portal_port}")
        print(f"    API            {base}/api/v1/products")
        print(f"    API docs       {base}/docs")
        print(f"    readiness      {base}/readyz")
        if self.firm_grpc_port:
            ca = _pki_dir(self.data_dir) / "ca.pem"
            print(
                f"    firm gRPC      127.0.0.1:{self.firm_grpc_port} (TLS, trust {ca}; docs/integrating.md)"
            )
        print(
            "    metrics        http://127.0.0.1:9100/metrics (gateway; services :9101-9107, worker :9110, portal :9112)"
        )
        if "temporal" in self.servers:
            print(f"    Temporal UI    http://127.0.0.1:{self.settings.local_temporal_ui_port}")
        print(f"    data           {self.data_dir}")
        print("    demo login     client@demo.counsel.test / Demo-Passw0rd!")
        print("    Ctrl-C stops everything.", flush=True)

    # -- stop ----------------------------------------------------------------------------------------
    def stop(self) -> None:
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(paint(f"{child.name} did not stop within {STOP_GRACE_SECONDS:.0f} s; killed", RED))
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for server in reversed(self.servers.values()):
            server.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / "run" / "stack.json").unlink()


def ha_ports(settings: Settings) -> Ports:
    """The base ports of `--ha`'s three-node clusters, from the COUNSEL_LOCAL_*_PORT settings."""
    return Ports(
        postgres=settings.local_postgres_port,
        patroni=settings.local_patroni_port,
        etcd=settings.local_etcd_port,
        etcd_peer=settings.local_etcd_peer_port,
        nats=settings.local_nats_port,
        nats_monitor=settings.local_nats_monitor_port,
        nats_cluster=settings.local_nats_cluster_port,
    )


def run_stack(ha: bool = False) -> int:
    settings = local_settings()
    stack = Stack(settings, ha=ha)
    stack.plan()
    taken = stack.check_ports()
    if taken:
        for line in taken:
            say(paint(line, RED))
        return 2
    stack.data_dir.mkdir(parents=True, exist_ok=True)
    interrupted = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        interrupted.set()
        raise KeyboardInterrupt

    # Explicitly, also for SIGINT: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start_servers()
        stack.bootstrap()
        stack.issue_identities()
        say("starting 7 services, the worker, the gateway and the portal …")
        stack.spawn()
        stack.wait_ready()
        # Consultation and documents assign work only to lawyers they have copied from the catalog's events.
        say("waiting for the demo lawyers to reach consultation and documents …")
        asyncio.run(wait_for_lawyer_copies(stack.bootstrap_settings(), READY_TIMEOUT))
        stack.write_state()
        stack.print_urls()
        stack.supervise()
    except KeyboardInterrupt:
        say("stopping …")
        return 0
    except (ServerStartError, RuntimeError, OSError) as exc:
        say(paint(str(exc), RED))
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not abandon the shutdown
        stack.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        say("stopped.")


def print_status(as_json: bool = False) -> int:
    """Every process and server of the running stack (role, pid, port, restarts; see `platform_status`), as
    lines or as JSON; exit code 0 only when all are healthy."""
    settings = local_settings()
    state_file = settings.data_dir.resolve() / "run" / "stack.json"
    if not state_file.exists():
        print(f"counsel is not running (no {state_file})")
        return 1
    status = platform_status(json.loads(state_file.read_text()), operator_tls(settings.data_dir.resolve()))
    status["backups"] = backup_status(settings.data_dir.resolve())
    if as_json:
        print(json.dumps(status, indent=2))
    else:
        for row in _status_rows(status):
            mark = paint("healthy  ", GREEN) if row["healthy"] else paint("unhealthy", RED)
            print(f"{row['name']:<22} {mark} {row['detail']}")
        print(f"{'backups':<22}           {_backups_line(status['backups'])}")
    return 0 if status["healthy"] else 1


def platform_status(state: dict[str, Any], operator: TlsMaterial) -> dict[str, Any]:
    """What `counsel status --json` prints: `services` (each process: pid, port, gRPC health, restarts),
    `postgres`, `nats` and `etcd` (a list of nodes each), `temporal`, `dependencies` (as the services see
    them, from the gateway's `/readyz?verbose=1`), `given_up` and `healthy`."""
    services = []
    dependencies: dict[str, str] = {}
    for name, info in state["processes"].items():
        alive = info["pid"] is not None and _pid_alive(info["pid"])
        entry = {"name": name, "pid": info["pid"], "port": info["port"], "restarts": info.get("restarts", 0)}
        if name == "gateway":
            code, body = _http_status(f"{state['gateway']}/readyz?verbose=1")
            entry |= {"state": f"/readyz {code or 'unreachable'}", "healthy": alive and code == 200}
            if isinstance(body, dict):
                dependencies = body.get("dependencies") or {}
        elif name in HTTP_PROCESSES:
            code, _ = _http_status(f"http://127.0.0.1:{info['port']}/healthz")
            entry |= {"state": f"/healthz {code or 'unreachable'}", "healthy": alive and code == 200}
        elif info["port"]:
            serving = _grpc_serving(info["port"], operator) if alive else "DOWN"
            entry |= {"state": serving, "healthy": serving == "SERVING"}
        else:
            entry |= {"state": "running" if alive else "DOWN", "healthy": alive}
        services.append(entry)
    status: dict[str, Any] = {
        "services": services,
        "postgres": [],
        "nats": [],
        "etcd": [],
        "temporal": {},
        "dependencies": dependencies,
        "given_up": state.get("given_up", []),
    }
    for kind, nodes in server_status(state).items():
        status[kind] = nodes[0] if kind == "temporal" else nodes
    every = [*services, *status["postgres"], *status["nats"], *status["etcd"], status["temporal"]]
    status["healthy"] = (
        all(entry.get("healthy", False) for entry in every)
        and all(value == "ok" for value in dependencies.values())
        and not status["given_up"]
    )
    return status


def server_status(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each server the stack runs, by kind (`postgres`, `nats`, `etcd`, `temporal`), as it answers now; a
    dependency given by URL instead (COUNSEL_DATABASE_URL, …) is one entry with its address, healthy when its
    port accepts connections."""
    nodes: dict[str, list[dict[str, Any]]] = {"postgres": [], "nats": [], "etcd": [], "temporal": []}
    servers = state.get("servers", {})
    patroni = {
        member["name"]: member
        for member in cluster_members([s["rest_url"] for s in servers.values() if "rest_url" in s])
    }
    for name, server in servers.items():
        entry = {"name": name, "pid": server["pid"], "port": server["port"], "restarts": server["restarts"]}
        alive = server["pid"] is not None and _pid_alive(server["pid"])
        if server["kind"] == "postgres" and "rest_url" in server:
            entry |= _patroni_node(server, patroni.get(name), alive)
        elif server["kind"] == "postgres":
            entry |= {"role": "primary", "lag_bytes": 0, "healthy": alive and port_in_use(server["port"])}
        elif server["kind"] == "nats":
            leader_of = _nats_leader_of(server) if alive else []
            role = ("leader" if leader_of else "follower") if alive else "down"
            entry |= {"role": role, "leader_of": leader_of, "healthy": alive and _nats_healthy(server)}
        elif server["kind"] == "etcd":
            seen_as = etcd_role(server["client_url"]) if alive else None
            entry |= {"role": seen_as or "down", "healthy": seen_as is not None}
        else:
            entry |= {"healthy": alive and port_in_use(server["port"])}
            if server["kind"] == "temporal":
                entry["db_file"] = server.get("db_file")
        nodes[server["kind"]].append(entry)
    for kind, address in state["dependencies"].items():
        if nodes[kind]:
            continue
        host_port = address.split("://")[-1].split("/")[0].split(",")[0]
        host, _, port = host_port.rpartition(":")
        up = port.isdigit() and port_in_use(int(port), host or "127.0.0.1")
        nodes[kind].append({"name": kind, "pid": None, "address": address, "healthy": up})
    return nodes


def _patroni_node(server: dict[str, Any], member: dict[str, Any] | None, alive: bool) -> dict[str, Any]:
    """A PostgreSQL node under Patroni as `counsel status` shows it: `pid` is its postmaster's (Patroni's own
    is `patroni_pid`), `role` primary or replica (`sync` says whether it is the synchronous standby), and
    `lag_bytes` how far its replay is behind the primary (None while Patroni cannot tell)."""
    role = (member or {}).get("role")
    lag = (member or {}).get("lag", 0)
    return {
        "pid": postmaster_pid(Path(server["pgdata"])),
        "patroni_pid": server["pid"],
        "role": "primary" if role in ("leader", "primary") else "replica" if role else "down",
        "sync": role == "sync_standby",
        "state": (member or {}).get("state", "unknown"),
        "lag_bytes": lag if isinstance(lag, int) else None,
        "healthy": alive and (member or {}).get("state") in ("running", "streaming"),
    }


def _nats_healthy(server: dict[str, Any]) -> bool:
    return _http_status(f"{server['monitor']}/healthz?js-enabled-only=true")[0] == 200


def _nats_leader_of(server: dict[str, Any]) -> list[str]:
    """The streams this NATS server leads (every stream, for a server outside any cluster)."""
    _, body = _http_status(f"{server['monitor']}/jsz?accounts=true&streams=true")
    if not isinstance(body, dict):
        return []
    led = []
    for account in body.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            leader = (stream.get("cluster") or {}).get("leader")
            if leader in (None, server["server_name"]):
                led.append(stream["name"])
    return sorted(led)


def _status_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in status["services"]:
        detail = f"pid {entry['pid']}" + (f", :{entry['port']}" if entry["port"] else "")
        rows.append({**entry, "detail": f"{detail} {entry['state']}{_restarted(entry)}"})
    for value, health in status["dependencies"].items():
        rows.append({"name": f"{value} (services)", "healthy": health == "ok", "detail": health})
    for kind in ("postgres", "nats", "etcd"):
        for node in status[kind]:
            role = node.get("role", "")
            role += " (synchronous)" if node.get("sync") else ""
            role += f" of {', '.join(node['leader_of'])}" if node.get("leader_of") else ""
            lag = f", lag {node['lag_bytes']} B" if "lag_bytes" in node else ""
            where = f"pid {node['pid']}, :{node['port']}" if node.get("pid") else node.get("address", "")
            rows.append({**node, "detail": f"{where} {role}{lag}{_restarted(node)}".rstrip()})
    temporal = status["temporal"]
    where = f"pid {temporal['pid']}, :{temporal['port']}" if temporal.get("pid") else temporal.get("address")
    rows.append({**temporal, "detail": f"{where}{_restarted(temporal)}"})
    for name in status["given_up"]:
        rows.append(
            {"name": name, "healthy": False, "detail": "crashed repeatedly; given up (restart counsel)"}
        )
    return rows


def _backups_line(backups: dict[str, Any]) -> str:
    if not backups["sets"]:
        line = "no backup set yet"
    else:
        line = f"{backups['sets']} set(s), the last {backups['last']} ({backups['last_age_seconds'] // 60} min ago)"
    lag = backups["archive_lag_seconds"]
    return line + (f"; WAL archived {lag} s ago" if lag is not None else "; no WAL archived yet")


def _restarted(entry: dict[str, Any]) -> str:
    return f", restarted {entry['restarts']}×" if entry.get("restarts") else ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
