"""One whole platform per test session, started by `counsel up` as a child process on the session's real
PostgreSQL and Temporal, shared by every e2e module (each isolates its data by the accounts it uses). NATS is
the stack's own, as `counsel up` runs it on a laptop: authorization on, a user per process (R-OPS-3), so every
journey also proves that each process does its job with its own credentials and permissions."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest

from deploy.local.launcher import StackProcess, stack_env
from deploy.local.servers import PostgresServer, TemporalDevServer
from tests.e2e.support import _no_5xx


@pytest.fixture(scope="session")
def platform(
    postgres_server: PostgresServer,
    temporal_dev_server: TemporalDevServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackProcess]:
    data_dir = tmp_path_factory.mktemp("platform")
    env, gateway_port = stack_env(
        name=f"e{uuid.uuid4().hex[:10]}",
        data_dir=data_dir,
        database_url=postgres_server.url,
        nats_url=None,
        temporal_address=temporal_dev_server.address,
        secret_key=secrets.token_urlsafe(48),
    )
    env["COUNSEL_NOTIFICATION_DIGEST_SECONDS"] = "1"  # e-mail/SMS digests close within the tests' patience
    running = StackProcess(f"http://127.0.0.1:{gateway_port}", env, data_dir, data_dir / "counsel-up.log")
    running.start()
    yield running
    if running.running():
        running.stop()


@pytest.fixture(scope="session")
def http(platform: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.base_url, timeout=30, event_hooks={"response": [_no_5xx]}) as client:
        yield client
