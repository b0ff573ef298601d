"""Entry point of the gateway; importable so tests can run the real HTTP server in-process."""

from __future__ import annotations

import uvicorn

from services.gateway.app import create_app
from services.runtime.config import Settings
from services.runtime.logs import configure_logging

# Seconds in-flight requests get to finish after SIGTERM before connections are closed.
SHUTDOWN_GRACE_SECONDS = 10


async def serve(settings: Settings) -> None:
    """Serve HTTP on gateway_host:gateway_port until SIGTERM/SIGINT, then drain and close the channels."""
    configure_logging("gateway", settings.log_level)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,  # the gateway writes its own access log, without query strings
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        server_header=False,
    )
    # uvicorn installs its own SIGTERM/SIGINT handlers and shuts down gracefully.
    await uvicorn.Server(config).serve()
