"""COUNSEL_DATABASE_URL names one server or a replicated cluster (issue 19 item 1): a service's database URL
keeps the URL's parameters and every host, in the form each driver reads; and the errors that mean "the
primary went away" are told apart from the rest."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import create_async_engine

from services.runtime.config import SettingsError, database_url_of, load_settings
from services.runtime.db import _backoff, asyncpg_dsn, primary_lost

CLUSTER = (
    "postgresql://counsel:pw@127.0.0.1:5441,127.0.0.1:5442,127.0.0.1:5443/?target_session_attrs=read-write"
)


@pytest.mark.parametrize(
    ("server_url", "expected"),
    [
        ("postgresql://u:p@db:5432", "postgresql://u:p@db:5432/counsel_payment"),
        ("postgresql://u:p@db:5432/", "postgresql://u:p@db:5432/counsel_payment"),
        ("postgres://u:p@db:5432/postgres", "postgresql://u:p@db:5432/counsel_payment"),
        (
            "postgresql://u:p@db:5432?sslmode=require",
            "postgresql://u:p@db:5432/counsel_payment?sslmode=require",
        ),
        (
            CLUSTER,
            "postgresql://counsel:pw@127.0.0.1:5441,127.0.0.1:5442,127.0.0.1:5443/counsel_payment"
            "?target_session_attrs=read-write",
        ),
    ],
)
def test_asyncpg_gets_the_database_with_the_urls_hosts_and_parameters(server_url: str, expected: str) -> None:
    assert asyncpg_dsn(server_url, "counsel_payment") == expected


def test_sqlalchemy_gets_every_host_of_a_cluster_and_its_parameters() -> None:
    settings = load_settings(env="test", database_url=CLUSTER)
    dsn = settings.database_dsn("payment")
    assert dsn == (
        "postgresql+asyncpg://counsel:pw@/counsel_payment?host=127.0.0.1:5441&host=127.0.0.1:5442"
        "&host=127.0.0.1:5443&target_session_attrs=read-write"
    )
    engine = create_async_engine(dsn)  # what the driver will be called with
    _, kwargs = engine.dialect.create_connect_args(engine.url)
    assert kwargs["host"] == ["127.0.0.1"] * 3
    assert kwargs["port"] == [5441, 5442, 5443]
    assert kwargs["database"] == "counsel_payment"
    assert kwargs["target_session_attrs"] == "read-write"


def test_a_single_server_url_with_a_query_string_keeps_it() -> None:
    settings = load_settings(env="test", database_url="postgresql://u:p@db:5432/?sslmode=require")
    assert (
        settings.database_dsn("booking") == "postgresql+asyncpg://u:p@db:5432/counsel_booking?sslmode=require"
    )


def test_a_host_without_a_port_gets_postgresqls_in_a_cluster_url() -> None:
    dsn = database_url_of("postgresql://u:p@a,b:6000", "x", driver="postgresql+asyncpg")
    assert dsn == "postgresql+asyncpg://u:p@/x?host=a:5432&host=b:6000"


def test_a_url_that_is_not_postgresql_is_refused_naming_the_setting() -> None:
    with pytest.raises(SettingsError, match="COUNSEL_DATABASE_URL"):
        database_url_of("mysql://u:p@db:3306", "x")


def _wrapped(error: BaseException) -> exc.DBAPIError:
    """How SQLAlchemy hands an asyncpg error to the caller: a DBAPIError over the driver's error."""
    try:
        raise RuntimeError("adapted") from error
    except RuntimeError as adapted:
        return exc.DBAPIError("SELECT 1", None, adapted)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TargetServerAttributeNotMatched("none of the hosts match the target attribute requirement"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    ],
)
def test_errors_of_a_lost_primary_are_recognised_however_wrapped(error: BaseException) -> None:
    assert primary_lost(error)
    assert primary_lost(_wrapped(error))


def test_socket_errors_mean_a_lost_primary_only_while_connecting() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    assert primary_lost(refused, connecting=True)
    assert not primary_lost(refused)  # inside a transaction it may come from anything (a NATS publish)
    assert not primary_lost(TimeoutError())


def test_other_database_errors_are_not_a_lost_primary() -> None:
    assert not primary_lost(_wrapped(asyncpg.UniqueViolationError("duplicate key")))
    assert not primary_lost(ValueError("no"))


def test_a_transaction_waiting_for_a_new_primary_looks_again_within_half_a_second() -> None:
    """A planned switchover leaves no primary for 2-4 s: however long a transaction has waited, its next look
    is at most 0.5 s away, so it takes the new primary within that of the primary's first accepted write."""
    waits = [_backoff(attempt) for attempt in range(12) for _ in range(100)]
    assert max(waits) <= 0.5
    assert max(_backoff(0) for _ in range(100)) <= 0.1  # the first look again is at once
