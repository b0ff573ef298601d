"""Entry point of the gateway; importable so tests can run the real HTTP server in-process."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.runtime.config import Settings
from services.runtime.keys import master_key
from services.runtime.logs import configure_logging
from services.runtime.metrics import serve_metrics
from services.runtime.tracing import configure_tracing

# Seconds in-flight requests get to finish after SIGTERM before connections are closed.
SHUTDOWN_GRACE_SECONDS = 10


def server_config(settings: GatewaySettings, app: ASGIApp) -> uvicorn.Config:
    """uvicorn's settings for the gateway. Forwarded headers are believed only from the configured trusted
    proxies: uvicorn's own default would trust any local process's X-Forwarded-For."""
    trusted = [p.strip() for p in settings.gateway_trusted_proxies.split(",") if p.strip()]
    return uvicorn.Config(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_config=None,
        access_log=False,  # the gateway writes its own access log, without query strings
        lifespan="on",
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        server_header=False,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or "",
    )


async def serve(shared: Settings) -> None:
    """Serve HTTP on gateway_host:gateway_port until SIGTERM/SIGINT, then drain and close the channels.
    Metrics are served apart, on the gateway's metrics port, never on the public one."""
    settings = GatewaySettings.from_settings(shared)
    # In prod the gateway's own NATS user is required (its wake-ups); refuse to start without it, before
    # anything listens, rather than run with wake-ups that could never connect.
    settings.nats_auth()
    master_key(settings)  # the codec server's key: MasterKeyError now, not at the first UI request
    configure_logging("gateway", settings.log_level)
    configure_tracing(settings, "gateway")
    serve_metrics(settings.metrics_port_for("gateway"), settings.metrics_host)
    # uvicorn installs its own SIGTERM/SIGINT handlers and shuts down gracefully.
    await uvicorn.Server(server_config(settings, create_app(settings))).serve()
