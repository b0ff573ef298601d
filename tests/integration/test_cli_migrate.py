"""`counsel migrate` says what it applied (issue 21 item 6): every database it created and the revisions it
ran, then the stream, buckets and consumers on NATS; a second run finds everything up to date; targets limit it."""

from __future__ import annotations

import os
import subprocess
import sys

from deploy.local.servers import NatsServer, PostgresServer
from services.runtime.config import SERVICE_NAMES


def test_migrate_reports_what_it_applied(
    postgres_server: PostgresServer, nats_server: NatsServer, unique_name: str
) -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("COUNSEL_")}
    environment.update(
        COUNSEL_ENV="dev",
        COUNSEL_DATABASE_URL=postgres_server.url,
        COUNSEL_DATABASE_PREFIX=unique_name,
        COUNSEL_NATS_URL=nats_server.url,
        COUNSEL_NATS_STREAM=unique_name.upper(),
        COUNSEL_SUBJECT_ROOT=unique_name,
    )

    def migrate(*targets: str) -> list[str]:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from deploy.cli import main; sys.exit(main())",
                "migrate",
                *targets,
            ],
            env=environment,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    first = migrate()
    assert len(first) == len(SERVICE_NAMES) + 1
    for service, line in zip(SERVICE_NAMES, first, strict=False):
        assert line.startswith(f"{service}: database {unique_name}_{service} created, applied 0001"), line
    assert first[-1].startswith(
        f"nats: stream {unique_name.upper()} and buckets documents, invoices, exports, qualifications at 1 replica"
    )
    assert "durable consumers" in first[-1]

    second = migrate()
    for service, line in zip(SERVICE_NAMES, second, strict=False):
        assert line == f"{service}: database {unique_name}_{service} up to date"
    assert second[-1] == first[-1]
    # The chart migrates each database as its own role, then NATS, one target at a time.
    assert migrate("identity") == [f"identity: database {unique_name}_identity up to date"]
    assert migrate("nats") == [first[-1]]
