"""Workflow payloads through the codec (services/runtime/codec.py) on a real worker: sealed on the server, and
a payload under a key the worker does not hold fails that workflow task with a clear error while the worker
keeps serving every other workflow."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import os
import uuid

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.runtime.codec import EncryptionCodec
from services.runtime.keys import local_master_key

V1, V9 = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))


@workflow.defn(name="CodecEcho", sandboxed=False)  # the test module imports what no sandbox takes
class CodecEcho:
    @workflow.run
    async def run(self, text: str) -> str:
        return text.upper()


def _client(env: WorkflowEnvironment, master: str) -> Client:
    converter = dataclasses.replace(
        pydantic_data_converter, payload_codec=EncryptionCodec(local_master_key(master))
    )
    return Client(env.client.service_client, namespace=env.client.namespace, data_converter=converter)


async def test_a_payload_under_an_unknown_key_fails_its_task_and_the_worker_keeps_serving(
    env: WorkflowEnvironment,
) -> None:
    queue = f"codec-{uuid.uuid4()}"
    ours = _client(env, f"v1={V1}")
    async with Worker(ours, task_queue=queue, workflows=[CodecEcho]):
        foreign = await _client(env, f"v9={V9}").start_workflow(
            CodecEcho.run, "marker-5eed", id=f"foreign-{uuid.uuid4()}", task_queue=queue
        )
        failure = ""
        for _ in range(100):
            async for event in foreign.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    failure = event.workflow_task_failed_event_attributes.failure.message
            if failure:
                break
            await asyncio.sleep(0.1)
        assert "'master:v9', which this process does not hold" in failure

        assert (
            await ours.execute_workflow(
                CodecEcho.run, "marker-5eed", id=f"ours-{uuid.uuid4()}", task_queue=queue
            )
            == "MARKER-5EED"
        )
        raw = Client(env.client.service_client, namespace=env.client.namespace)
        history = await raw.get_workflow_handle(foreign.id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        assert b"marker" not in started.input.SerializeToString()  # sealed on the server
        await foreign.terminate()
