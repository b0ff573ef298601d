"""The two HTTP apps of the gateway-overhead benchmark, each run by uvicorn in its own process:

    python -m bench.apps bare <port>              a bare FastAPI JSON echo (the baseline)
    python -m bench.apps gateway <port> <jwks>    the real gateway app plus an authenticated no-op route

The gateway variant runs every middleware, the problem handlers and token verification (against a JWKS
file the benchmark wrote), so the difference to the bare echo is the gateway's own cost per request."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import uvicorn
from fastapi import FastAPI

from services.gateway.app import create_app
from services.gateway.clients import Clients
from services.gateway.config import GatewaySettings
from services.gateway.deps import CurrentPrincipal
from services.runtime.auth import TokenVerifier
from services.runtime.logs import configure_logging
from services.runtime.tracing import configure_tracing

ISSUER = "https://counsel.local/identity"
AUDIENCE = "counsel-api"


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    async def echo() -> dict[str, bool]:
        return {"ok": True}

    return app


def gateway_app(jwks_path: Path) -> FastAPI:
    jwks = json.loads(jwks_path.read_text())

    async def fetch() -> dict[str, Any]:
        return cast(dict[str, Any], jwks)

    # The load comes from one address with one token: the rate limits stay on (their cost is the
    # gateway's) but far above what the benchmark offers, as the platform benchmarks set them.
    settings = GatewaySettings(
        env="prod",
        secret_key="b" * 48,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        gateway_rate_per_ip=1e6,
        gateway_burst_per_ip=1_000_000,
        gateway_rate_per_token=1e6,
        gateway_burst_per_token=1_000_000,
    )
    configure_logging("gateway", settings.log_level)  # the access log is part of the gateway's cost
    configure_tracing(settings, "gateway")  # and so are its spans when OTEL_EXPORTER_OTLP_ENDPOINT is set
    app = create_app(
        settings,
        clients=cast(Clients, object()),
        verifier=TokenVerifier(fetch, issuer=ISSUER, audience=AUDIENCE),
    )

    @app.get("/api/v1/bench/noop")
    async def noop(principal: CurrentPrincipal) -> dict[str, bool]:
        return {"ok": bool(principal.user_id)}

    return app


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    app = bare_app() if kind == "bare" else gateway_app(Path(sys.argv[3]))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
