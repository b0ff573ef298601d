"""Scans of the platform's data files for what must not be readable in them (issue 20): PostgreSQL's data
directory and WAL after a CHECKPOINT, Temporal's database, the JetStream store (event streams and object
store), and the payloads of Temporal's histories as the platform's own codec opens them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import asyncpg
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from deploy.local.servers import PostgresServer
from services.runtime.db import asyncpg_dsn


def files_holding(root: Path, needle: bytes) -> list[Path]:
    """The files under `root` whose bytes contain `needle`."""
    found = []
    for path in root.rglob("*"):
        try:
            if path.is_file() and needle in path.read_bytes():
                found.append(path)
        except OSError:  # removed meanwhile (a recycled WAL segment, a compacted block)
            continue
    return found


async def checkpoint(postgres: PostgresServer) -> None:
    """Flush every dirty page to the data files (what a reader of the disk finds)."""
    admin = await asyncpg.connect(asyncpg_dsn(postgres.dsn("postgres")))
    try:
        await admin.execute("CHECKPOINT")
    finally:
        await admin.close()


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside `message` (a history event: inputs, results, signals, memos)."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif field.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                yield item
            elif isinstance(item, Message):
                yield from payloads_in(item)


async def opened_history_payloads(client: Client, workflow_id: str) -> list[bytes]:
    """The data of every payload in the workflow's history, opened with `client`'s codec: what anyone
    holding the platform's payload key reads there."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    sealed = [payload for event in history.events for payload in payloads_in(event)]
    codec = client.data_converter.payload_codec
    opened = await codec.decode(sealed) if codec else sealed
    return [payload.data for payload in opened]
