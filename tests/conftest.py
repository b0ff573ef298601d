"""Project-wide pytest setup.

* Every test gets the marker of its top-level folder: ``tests/unit`` → ``unit``, ``tests/workflows`` →
  ``workflows``, ``tests/integration`` → ``integration``, ``tests/e2e`` → ``e2e``, ``tests/ha`` → ``ha``,
  ``tests/browser`` → ``browser``
  (select with ``-m``).
* Real servers, started once per session and only when a test asks for them, stopped at the end:
  ``postgres_server`` (:class:`PostgresServer`, ``durable=False``), ``nats_server`` (:class:`NatsServer`),
  ``temporal_dev_server`` (:class:`TemporalDevServer`, headless, namespace ``default``), plus
  ``temporal_test_server_path`` for ``WorkflowEnvironment.start_time_skipping``. They are shared: isolate
  your test with ``unique_name`` (its own database, stream, subject root, task queue, workflow ids).
* Servers are stopped on normal exit, on failures, on Ctrl-C and on SIGTERM (turned into KeyboardInterrupt
  so the teardown runs). Only SIGKILL of pytest leaves them running.
"""

from __future__ import annotations

import atexit
import contextlib
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from deploy.local.servers import (
    NatsServer,
    PostgresServer,
    TemporalDevServer,
    find_binary,
    free_port,
)
from services.runtime.config import Settings
from services.runtime.pki import LocalAuthority, TlsFiles, TlsMaterial

TESTS_DIR = Path(__file__).resolve().parent
_DIR_MARKERS = ("unit", "workflows", "integration", "e2e", "ha", "browser", "recovery")
RECOVERY_DIR = TESTS_DIR / "recovery"

_S = TypeVar("_S", PostgresServer, NatsServer, TemporalDevServer)

# Every server this session started; stopped again at interpreter exit as a last resort.
_STARTED: list[PostgresServer | NatsServer | TemporalDevServer] = []


def _stop_all() -> None:
    for server in reversed(_STARTED):
        server.stop()


atexit.register(_stop_all)


def _sigterm_to_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    # A plain SIGTERM (CI cancelling a job, `kill`) would end Python without teardown and leave the
    # servers, which run in their own process groups, behind.
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    ):
        signal.signal(signal.SIGTERM, _sigterm_to_keyboard_interrupt)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--recovery",
        action="store_true",
        help="also run tests/recovery (a replicated platform backed up and restored: minutes; `make recovery`)",
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The restore of a whole replicated platform takes minutes: it runs with `make recovery`, beside the RPO
    # and RTO measurements, not in `make test` (the CI budget).
    if collection_path.resolve().is_relative_to(RECOVERY_DIR) and not config.getoption("--recovery"):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            parts = item.path.resolve().relative_to(TESTS_DIR).parts
        except ValueError:
            continue
        if len(parts) > 1 and parts[0] in _DIR_MARKERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@contextlib.contextmanager
def _running(server: _S) -> Iterator[_S]:
    _STARTED.append(server)
    try:
        server.start()  # a failing start stops what it started before raising
        yield server
    finally:
        server.stop()
        _STARTED.remove(server)


@pytest.fixture
def postgres_dir() -> Iterator[Path]:
    """A folder for a test's own PostgreSQL cluster, outside pytest's basetemp for the reason given below."""
    folder = Path(tempfile.mkdtemp(prefix="counsel-test-postgres-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL (fsync off). ``postgres_server.dsn("postgres")`` is the admin database's URL.

    Its cluster is not under pytest's basetemp: every pytest session started as root makes
    /tmp/pytest-of-root private again (0700), which locked the unprivileged postgres user out of a cluster
    that another, concurrent session was starting ("could not access directory …: Permission denied")."""
    data_dir = Path(tempfile.mkdtemp(prefix="counsel-test-postgres-"))
    try:
        with _running(PostgresServer(data_dir, free_port(), durable=False)) as server:
            yield server
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """NATS with JetStream; ``nats_server.url`` for ``nats.connect``."""
    with _running(NatsServer(tmp_path_factory.mktemp("nats"), free_port())) as server:
        yield server


@pytest.fixture(scope="session")
def temporal_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    """Temporal dev server (headless, namespace ``default``); ``temporal_dev_server.address`` for clients."""
    with _running(TemporalDevServer(tmp_path_factory.mktemp("temporal"), free_port())) as server:
        yield server


@pytest.fixture(scope="session")
def temporal_test_server_path() -> str:
    """Path of ``temporal-test-server`` for ``WorkflowEnvironment.start_time_skipping(
    test_server_existing_path=...)`` (without it the SDK tries to download one and fails offline)."""
    return find_binary("temporal-test-server")


@pytest.fixture
def unique_name() -> str:
    """A short unique lowercase identifier (``t`` + 10 hex digits), valid as a database, stream, subject
    token or task queue name."""
    return f"t{secrets.token_hex(5)}"


class Identities:
    """Mutual-TLS identities for the processes a test stands up: `pki("payment")` is the payment service's
    certificate, key and CA, issued once per session by a throwaway authority."""

    def __init__(self, authority: LocalAuthority) -> None:
        self.authority = authority
        self._issued: dict[str, TlsFiles] = {}

    def __call__(self, identity: str) -> TlsMaterial:
        return self.files(identity).read()

    def files(self, identity: str) -> TlsFiles:
        if identity not in self._issued:
            self._issued[identity] = self.authority.issue(identity)
        return self._issued[identity]

    def settings(self, settings: Settings, identity: str) -> Settings:
        """`settings` as the process `identity` runs with them (its COUNSEL_TLS_* files)."""
        files = self.files(identity)
        return settings.model_copy(
            update={
                "tls_ca_file": str(files.ca_file),
                "tls_cert_file": str(files.cert_file),
                "tls_key_file": str(files.key_file),
            }
        )


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Identities:
    return Identities(LocalAuthority(tmp_path_factory.mktemp("pki")))
