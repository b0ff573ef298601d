"""The time-skipping test server every workflow module runs on: one per module (a module's timers never
wait on another's), with the data converter the platform uses (it carries `timedelta`; payloads sealed by
the codec)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from services.runtime.config import load_settings
from services.runtime.temporal import data_converter

# The platform's converter with a test master key (derived from this secret outside prod).
CONVERTER = data_converter(load_settings(env="test", secret_key="workflow-tests-" * 3))


@pytest.fixture(scope="module")
async def env(temporal_test_server_path: str) -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path, data_converter=CONVERTER
    ) as environment:
        yield environment
