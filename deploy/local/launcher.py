"""`counsel up` as a child process: how the e2e tests and the benchmarks run the whole platform."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.local.servers import free_port, free_ports_in_a_row
from services.runtime.config import SERVICE_NAMES

# What `counsel up --ha` starts three of, by the setting of its first node's port (deploy/local/ha.py).
HA_PORT_SETTINGS = (
    "COUNSEL_LOCAL_POSTGRES_PORT",
    "COUNSEL_LOCAL_PATRONI_PORT",
    "COUNSEL_LOCAL_ETCD_PORT",
    "COUNSEL_LOCAL_ETCD_PEER_PORT",
    "COUNSEL_LOCAL_NATS_PORT",
    "COUNSEL_LOCAL_NATS_MONITOR_PORT",
    "COUNSEL_LOCAL_NATS_CLUSTER_PORT",
)


def stack_env(
    *,
    name: str,
    data_dir: Path,
    database_url: str | None,
    nats_url: str | None,
    temporal_address: str,
    secret_key: str,
) -> tuple[dict[str, str], int]:
    """Environment for a stack on free ports, isolated by `name` (database prefix, stream, subjects, task
    queue), using the given servers; the portal's port is COUNSEL_PORTAL_PORT. With `nats_url` None the
    stack starts its own NATS server, with a user per process, on free ports; with `database_url` None too,
    the ports are `counsel up --ha`'s, three free ones in a row for each of its clusters. Returns the
    environment and the gateway port."""
    gateway_port = free_port()
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("COUNSEL_NATS_", "COUNSEL_DATABASE_URL"))
    }
    nats = (
        {"COUNSEL_NATS_URL": nats_url}
        if nats_url is not None
        else {
            "COUNSEL_LOCAL_NATS_PORT": str(free_port()),
            "COUNSEL_LOCAL_NATS_MONITOR_PORT": str(free_port()),
        }
    )
    if database_url is not None:
        database = {"COUNSEL_DATABASE_URL": database_url}
    else:
        first = free_ports_in_a_row(3 * len(HA_PORT_SETTINGS))
        database = {setting: str(first + 3 * i) for i, setting in enumerate(HA_PORT_SETTINGS)}
    env = {
        **inherited,
        **nats,
        **database,
        "COUNSEL_ENV": "test",
        "COUNSEL_DATA_DIR": str(data_dir),
        "COUNSEL_DATABASE_PREFIX": name,
        "COUNSEL_NATS_STREAM": name.upper(),
        "COUNSEL_SUBJECT_ROOT": name,
        "COUNSEL_TEMPORAL_ADDRESS": temporal_address,
        "COUNSEL_TEMPORAL_TASK_QUEUE": name,
        "COUNSEL_GATEWAY_PORT": str(gateway_port),
        "COUNSEL_PORTAL_PORT": str(free_port()),
        "COUNSEL_FIRM_GRPC_PORT": str(free_port()),
        "COUNSEL_METRICS_PORT": "0",
        "COUNSEL_SECRET_KEY": secret_key,
        **{f"COUNSEL_{svc.upper()}_ADDR": f"127.0.0.1:{free_port()}" for svc in SERVICE_NAMES},
    }
    return env, gateway_port


def replicated_stack_env(name: str, data_dir: Path, secret_key: str) -> dict[str, str]:
    """`stack_env` for `counsel up --ha` on free ports, with the stack's own Temporal dev server (so that its
    supervisor restarts it)."""
    env, _ = stack_env(
        name=name,
        data_dir=data_dir,
        database_url=None,
        nats_url=None,
        temporal_address="",
        secret_key=secret_key,
    )
    del env["COUNSEL_TEMPORAL_ADDRESS"]
    env["COUNSEL_LOCAL_TEMPORAL_PORT"] = str(free_port())
    env["COUNSEL_LOCAL_TEMPORAL_UI_PORT"] = str(free_port())
    return env


@dataclass
class StackProcess:
    base_url: str
    env: dict[str, str]
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    ha: bool = False  # `counsel up --ha`

    @classmethod
    def replicated(cls, env: dict[str, str], data_dir: Path) -> StackProcess:
        """`counsel up --ha` with the environment of `stack_env(database_url=None, nats_url=None, …)`."""
        base_url = f"http://127.0.0.1:{env['COUNSEL_GATEWAY_PORT']}"
        return cls(base_url, env, data_dir, data_dir / "counsel-up.log", ha=True)

    @property
    def state_file(self) -> Path:
        return self.data_dir / "run" / "stack.json"

    def start(self, timeout: float = 150.0) -> None:
        """Run `counsel up` and wait until /readyz answers 200; raises with the log tail otherwise."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "deploy.cli", "up", *(["--ha"] if self.ha else [])],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"counsel up exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if (
                    httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
                    and self.state_file.exists()
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the platform was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> int:
        """Ctrl-C, as a person would; returns the exit code."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise

    def status(self) -> tuple[int, dict[str, Any]]:
        """`counsel status --json` of this platform: its exit code (0 when every process and node is
        healthy) and what it printed."""
        result = subprocess.run(
            [sys.executable, "-m", "deploy.cli", "status", "--json"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.returncode, dict(json.loads(result.stdout))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
