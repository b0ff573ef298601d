"""The time-skipping test server every workflow module runs on: one per module (a module's timers never
wait on another's), with the data converter the platform uses (it carries `timedelta`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment


@pytest.fixture(scope="module")
async def env(temporal_test_server_path: str) -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path, data_converter=pydantic_data_converter
    ) as environment:
        yield environment
