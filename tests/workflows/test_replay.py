"""Replays recorded workflow histories against today's workflow code: a change that would break running
workflows (non-determinism) fails here and must go behind `workflow.patched()` (STYLE.md). The replayer
decodes with the platform's codec, as the worker does: histories recorded before it (unsealed) still replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from services.runtime.config import load_settings
from services.runtime.temporal import data_converter
from workflows.worker import WORKFLOWS

HISTORIES = {
    path.stem: json.loads(path.read_text())
    for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


def test_there_are_recorded_histories_to_replay() -> None:
    assert HISTORIES


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_recorded_history_replays_deterministically(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=data_converter(load_settings(env="test", secret_key="replay-tests-" * 3)),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
