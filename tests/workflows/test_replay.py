"""Replays recorded workflow histories against today's workflow code: a change that would break running
workflows (non-determinism) fails here and must go behind `workflow.patched()` (STYLE.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

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
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
