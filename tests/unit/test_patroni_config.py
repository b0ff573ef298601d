"""The Patroni configuration of `counsel up --ha` (deploy/local/ha.py): what bounds the write unavailability
of a failover (issue 19 item 4's targets), within the limits Patroni 4.1 enforces."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from deploy.local.ha import PatroniNode, configuration_patch, dynamic_configuration


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


def test_a_planned_switchover_checkpoints_only_a_minute_of_writes(tmp_path: Path) -> None:
    """Patroni's CHECKPOINT before it stops the old primary, and the shutdown checkpoint after it, sync what
    was written since the last checkpoint: at most a minute's, not PostgreSQL's default five."""
    parameters = _config(tmp_path)["bootstrap"]["dcs"]["postgresql"]["parameters"]
    assert parameters["checkpoint_timeout"] == "1min"


def test_a_running_cluster_is_patched_with_only_the_dynamic_settings_that_differ() -> None:
    """`counsel up --ha` on an existing folder PATCHes Patroni's `/config` (written only at bootstrap) with
    what differs from ours, nested as Patroni merges it; settings we do not name stay as they are."""
    desired = dynamic_configuration()
    old = copy.deepcopy(desired) | {"loop_wait": 10, "failsafe_mode": False}
    old["postgresql"]["parameters"] |= {"max_connections": 100, "work_mem": "8MB"}
    del old["primary_start_timeout"]
    assert configuration_patch(old, desired) == {
        "loop_wait": 1,
        "primary_start_timeout": 0,
        "postgresql": {"parameters": {"max_connections": 300}},
    }
    assert configuration_patch(desired, desired) == {}  # up to date: nothing is sent again


def test_a_new_cluster_bootstraps_with_the_same_dynamic_configuration(tmp_path: Path) -> None:
    assert _config(tmp_path)["bootstrap"]["dcs"] == dynamic_configuration()
