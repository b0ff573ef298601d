"""Readiness that survives a failover (issue 19 item 3): a service process leaves rotation only when it cannot
serve — not while its database fails over (transactions wait for the new primary), not while NATS is away
(the outbox keeps its events), not while Temporal is."""

from __future__ import annotations

from services.runtime.db import FAILOVER_PATIENCE_SECONDS
from services.runtime.service import readiness


def test_a_service_with_its_database_is_ready() -> None:
    assert readiness(None, now=1000.0)


def test_a_service_stays_ready_while_its_database_fails_over() -> None:
    assert readiness(1000.0 - FAILOVER_PATIENCE_SECONDS + 1, now=1000.0)


def test_a_service_whose_database_is_away_longer_than_a_failover_is_not_ready() -> None:
    assert not readiness(1000.0 - FAILOVER_PATIENCE_SECONDS, now=1000.0)
