"""One whole platform per test session, started by `counsel up` as a child process on the session's real
PostgreSQL and Temporal, shared by every e2e module (each isolates its data by the accounts it uses). NATS is
the stack's own, as `counsel up` runs it on a laptop: authorization on, a user per process (R-OPS-3), so every
journey also proves that each process does its job with its own credentials and permissions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from deploy.local.launcher import StackProcess
from deploy.local.servers import PostgresServer, TemporalDevServer
from tests.support.journeys import no_5xx
from tests.support.platform import running_platform

LOG_SCAN = "test_logs_hold_no_personal_data.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The scan of the platform's logs runs after every journey, so it covers what they typed too."""
    items.sort(key=lambda item: item.path.name == LOG_SCAN)


@pytest.fixture(scope="session")
def platform(
    postgres_server: PostgresServer,
    temporal_dev_server: TemporalDevServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackProcess]:
    with running_platform(
        postgres_server, temporal_dev_server, tmp_path_factory.mktemp("platform")
    ) as running:
        yield running


@pytest.fixture(scope="session")
def http(platform: StackProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.base_url, timeout=30, event_hooks={"response": [no_5xx]}) as client:
        yield client
