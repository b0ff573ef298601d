"""The Patroni configuration of `counsel up --ha` (deploy/local/ha.py): what bounds the write unavailability
of a failover (issue 19 item 4's targets), within the limits Patroni 4.1 enforces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deploy.local.ha import PatroniNode


def _config(tmp_path: Path) -> dict[str, Any]:
    node = PatroniNode(
        tmp_path, "postgres-1", 15432, 18008, ["127.0.0.1:12379"], {"counsel": "c", "replicator": "r"}
    )
    return node.config()


def test_the_leader_ttl_is_patronis_floor_and_its_loop_fits_within_it(tmp_path: Path) -> None:
    dcs = _config(tmp_path)["bootstrap"]["dcs"]
    assert dcs["ttl"] == 20  # Patroni 4.1 raises anything smaller to 20 (TOOLCHAIN.md)
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert dcs["loop_wait"] == 1  # a dead postmaster or a new leader is noticed within a second


def test_a_crashed_primary_hands_over_to_its_synchronous_standby_instead_of_restarting(
    tmp_path: Path,
) -> None:
    dcs = _config(tmp_path)["bootstrap"]["dcs"]
    assert dcs["primary_start_timeout"] == 0
    # Only the synchronous standby, which holds every acknowledged commit, may take over.
    assert dcs["synchronous_mode"] is True and dcs["synchronous_mode_strict"] is True


def test_replicas_reconnect_to_a_new_primary_within_a_second(tmp_path: Path) -> None:
    parameters = _config(tmp_path)["postgresql"]["parameters"]
    assert parameters["wal_retrieve_retry_interval"] == "1s"
    assert parameters["recovery_init_sync_method"] == "syncfs"
