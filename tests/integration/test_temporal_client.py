"""The one Temporal client factory (`services/runtime/temporal.py`) against the real dev server: the SDK
core's own warnings reach Python logging (so they are JSON lines on stderr, R-OPS logs), instead of being
printed to stdout, where a pipe nobody drained once blocked the core and stopped a worker polling."""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest
from temporalio import workflow
from temporalio.worker import Worker

from deploy.local.servers import TemporalDevServer
from services.runtime.config import load_settings
from services.runtime.temporal import CORE_LOGGER, connect_temporal


@workflow.defn(sandboxed=False)
class BrokenWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in workflow code fails the workflow task, not the workflow")


async def test_core_warnings_arrive_in_python_logging(
    temporal_dev_server: TemporalDevServer, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(
        env="test",
        temporal_address=temporal_dev_server.address,
        temporal_namespace="default",
        secret_key="temporal-client-test-" * 2,  # the payload codec's key outside prod
    )
    client = await connect_temporal(settings)
    caplog.set_level(logging.WARNING, logger=CORE_LOGGER.name)

    def core_records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name.startswith(CORE_LOGGER.name)]

    async with Worker(client, task_queue=unique_name, workflows=[BrokenWorkflow]):
        handle = await client.start_workflow(
            BrokenWorkflow.run, id=f"broken-{uuid.uuid4().hex}", task_queue=unique_name
        )
        try:
            async with asyncio.timeout(30):
                while not core_records():  # noqa: ASYNC110 (polling captured log records)
                    await asyncio.sleep(0.1)
        finally:
            await handle.terminate()
    messages = [r.getMessage() for r in core_records()]
    assert any("workflow task" in message.lower() for message in messages), messages
