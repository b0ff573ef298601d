"""Entry point of the portal; importable so tests can run the real HTTP server in-process."""

from __future__ import annotations

import uvicorn

from services.portal.app import create_app
from services.portal.config import PortalSettings
from services.runtime.config import Settings
from services.runtime.logs import configure_logging
from services.runtime.metrics import serve_metrics

SHUTDOWN_GRACE_SECONDS = 10


async def serve(shared: Settings) -> None:
    """Serve the portal on portal_host:portal_port until SIGTERM/SIGINT; metrics on the portal's metrics
    port, never on the public one."""
    settings = PortalSettings.from_settings(shared)
    configure_logging("portal", settings.log_level)
    serve_metrics(settings.metrics_port_for("portal"), settings.metrics_host)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.portal_host,
        port=settings.portal_port,
        log_config=None,
        access_log=False,  # the portal writes its own access log, without query strings
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        server_header=False,
    )
    await uvicorn.Server(config).serve()
