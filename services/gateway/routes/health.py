"""Liveness and readiness of the gateway, and the aggregate health of every peer for people
(`/readyz?verbose=1`). Metrics are served on the gateway's metrics port."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from fastapi import Request
from fastapi.responses import JSONResponse
from grpc_health.v1 import health_pb2
from pydantic import BaseModel

from services.gateway.clients import Clients
from services.gateway.routing import api_router
from services.gateway.schemas.common import Status
from services.runtime.config import SERVICE_NAMES

router = api_router("health")

READINESS_DEADLINE_SECONDS = 2.0


DEPENDENCIES = ("postgres", "nats", "temporal")


class Readiness(BaseModel):
    status: str
    # With ?verbose=1 only: every peer service's gRPC health, and what the services report of their
    # dependencies.
    services: dict[str, str] | None = None
    dependencies: dict[str, str] | None = None


@router.get("/healthz", response_model=Status)
async def healthz() -> Status:
    """The gateway process is alive."""
    return Status(status="ok")


async def _check(stub: Any | None, service: str = "") -> str:
    if stub is None:
        return "UNKNOWN"
    try:
        reply = await stub.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=READINESS_DEADLINE_SECONDS
        )
    except grpc.aio.AioRpcError as exc:
        return str(exc.code().name)
    except Exception:  # a readiness probe reports, it never fails
        return "UNKNOWN"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(request: Request, verbose: bool = False) -> JSONResponse:
    """200 while the gateway can serve requests: started, with its channels to the services open, and not
    stopping; else 503. Not whether every service and dependency is up: a load balancer that took every
    gateway out of rotation while one database fails over (or one service is down) would turn a partial
    outage into a total one. `verbose=1` adds that aggregate view for people and dashboards (`counsel
    status`): `services`, each peer's answer to grpc.health.v1 Check within 2 s, and `dependencies`, what the
    services report of PostgreSQL, NATS and Temporal ("ok" when every service that uses one reaches it);
    `status` is then "degraded" when any is not."""
    clients = request.app.state.clients
    ready = clients is not None
    if not verbose or clients is None:
        body = Readiness(status="ready" if ready else "stopping")
    else:
        body = await _aggregate(clients)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if ready else 503)


async def _aggregate(clients: Clients) -> Readiness:
    names = list(SERVICE_NAMES)
    results = await asyncio.gather(*(_check(clients.health.get(name)) for name in names))
    services = dict(zip(names, results, strict=True))
    pairs = [
        (name, dependency) for name in names if services[name] == "SERVING" for dependency in DEPENDENCIES
    ]
    reports = await asyncio.gather(
        *(_check(clients.health.get(name), dependency) for name, dependency in pairs)
    )
    dependencies: dict[str, str] = {}
    for (name, dependency), report in zip(pairs, reports, strict=True):
        if report == "NOT_FOUND":
            continue  # this service does not use that dependency
        if report == "SERVING":
            dependencies.setdefault(dependency, "ok")
        else:
            dependencies[dependency] = f"unreachable from {name}"
    healthy = all(result == "SERVING" for result in results) and all(v == "ok" for v in dependencies.values())
    return Readiness(status="ready" if healthy else "degraded", services=services, dependencies=dependencies)
