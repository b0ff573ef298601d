"""The outbox benchmark's producer, in a process of its own so the relay's lag is the relay's, not the
wait for a CPU shared with a producer committing a thousand transactions a second:

    python -m bench.producer <database_url> <database_prefix> <subject_root> <rate> <seconds>

Commits one `consultation.submitted` event per transaction through `Outbox.add` at a fixed rate into the
`<prefix>_probe` database, then prints the run as JSON (completed, errors, shed, achieved rate)."""

from __future__ import annotations

import asyncio
import json
import sys

from sqlalchemy import MetaData

from bench.loadgen import open_loop
from counsel.consultation.v1 import events_pb2
from services.runtime.config import load_settings
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.tables import define_runtime_tables


async def produce(database_url: str, prefix: str, subject_root: str, rate: float, seconds: float) -> None:
    settings = load_settings(
        env="test", database_url=database_url, database_prefix=prefix, subject_root=subject_root
    )
    db = Database(settings.database_dsn("probe"), pool_size=8)
    outbox = Outbox("consultation", settings, define_runtime_tables(MetaData()))
    payload = events_pb2.ConsultationSubmitted(
        consultation_id="c", client_id="u", kind="general", subject="s"
    )

    async def one() -> None:
        async with db.transaction() as session:
            await outbox.add(session, "consultation.submitted", payload, aggregate_id="x")

    try:
        run = await open_loop(one, rate, seconds)
    finally:
        await db.close()
    print(
        json.dumps(
            {"completed": run.completed, "errors": run.errors, "shed": run.shed, "rate": run.achieved_rate}
        )
    )


def main() -> None:
    url, prefix, root, rate, seconds = sys.argv[1:6]
    asyncio.run(produce(url, prefix, root, float(rate), float(seconds)))


if __name__ == "__main__":
    main()
