"""The gateway app over fake peer services, and what its problem answers name.

A fake peer is a `Recorder`: it records every request with the access token forwarded to it and answers
with real proto messages, or raises real AioRpcErrors (`rpc_error`), so the gateway's translation is tested
without servers."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from types import SimpleNamespace
from typing import Any

import grpc
import httpx
from grpc_health.v1 import health_pb2
from nats.js.api import ObjectMeta
from nats.js.errors import ObjectNotFoundError

from counsel.common.v1 import errors_pb2
from services.gateway.app import create_app
from services.gateway.clients import Clients
from services.gateway.export_files import ExportFiles
from services.gateway.problems import PROBLEM_MEDIA_TYPE
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.context import access_token_var
from services.runtime.grpc_server import ERROR_DETAILS_KEY
from services.runtime.keys import StaticMasterKey
from tests.support.tokens import Issuer


def rpc_error(
    code: grpc.StatusCode,
    details: str = "refused",
    *,
    reason: str = "",
    violations: tuple[tuple[str, str], ...] = (),
) -> grpc.aio.AioRpcError:
    """A refusal as a service sends it: the status, and ErrorDetails (reason, field violations) in the
    trailers."""
    error_details = errors_pb2.ErrorDetails(
        reason=reason,
        field_violations=[errors_pb2.FieldViolation(field=f, message=m) for f, m in violations],
    )
    return grpc.aio.AioRpcError(
        code,
        initial_metadata=grpc.aio.Metadata(),
        trailing_metadata=grpc.aio.Metadata((ERROR_DETAILS_KEY, error_details.SerializeToString())),
        details=details,
    )


class Recorder:
    """Records every request and the forwarded access token; answers with `reply(request)` or raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []
        self.replies: dict[str, Callable[[Any], Any]] = {}

    def on(self, method: str, reply: Callable[[Any], Any]) -> None:
        self.replies[method] = reply

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_") or method[0].islower():
            raise AttributeError(method)

        def call(request: Any, **kwargs: Any) -> FakeCall:
            self.calls.append((method, request, access_token_var.get()))

            def produce() -> Any:
                if method not in self.replies:
                    raise rpc_error(grpc.StatusCode.UNIMPLEMENTED, "not faked")
                result = self.replies[method](request)
                if isinstance(result, Exception):
                    raise result
                return result

            return FakeCall(produce)

        return call


class FakeCall:
    """What a stub's call returns: awaited for a unary reply, or read message by message for a
    server-streaming one (the fake's reply is then a list of messages; the stream ends with EOF)."""

    def __init__(self, produce: Callable[[], Any]) -> None:
        self.produce = produce
        self.messages: Iterator[Any] | None = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._reply().__await__()

    async def _reply(self) -> Any:
        return self.produce()

    async def read(self) -> Any:
        if self.messages is None:
            self.messages = iter(self.produce())
        return next(self.messages, grpc.aio.EOF)

    def cancel(self) -> bool:
        return True


class FakeHealth:
    def __init__(self, status: int = health_pb2.HealthCheckResponse.SERVING, **by_name: int) -> None:
        self.status = status
        self.by_name = by_name  # per health-service name, e.g. postgres=NOT_SERVING

    async def Check(self, request: health_pb2.HealthCheckRequest, timeout: float | None = None) -> Any:  # noqa: ASYNC109 (a gRPC stub's signature)
        assert timeout is not None and timeout <= 2.0
        status = self.by_name.get(request.service, self.status)
        return health_pb2.HealthCheckResponse(status=status)  # type: ignore[arg-type]


class FakeClients(Clients):
    """One recorder per service, behind its public and its internal stub alike."""

    def __init__(self) -> None:
        identity, consultation, payment, notification = Recorder(), Recorder(), Recorder(), Recorder()
        super().__init__(
            identity=identity,  # type: ignore[arg-type]
            catalog=Recorder(),  # type: ignore[arg-type]
            consultation=consultation,  # type: ignore[arg-type]
            documents=Recorder(),  # type: ignore[arg-type]
            booking=Recorder(),  # type: ignore[arg-type]
            payment=payment,  # type: ignore[arg-type]
            notification=notification,  # type: ignore[arg-type]
            identity_internal=identity,  # type: ignore[arg-type]
            consultation_internal=consultation,  # type: ignore[arg-type]
            payment_internal=payment,  # type: ignore[arg-type]
            notification_internal=notification,  # type: ignore[arg-type]
            health={name: FakeHealth() for name in SERVICE_NAMES},
        )

    def fake(self, service: str) -> Recorder:
        recorder = getattr(self, service)
        assert isinstance(recorder, Recorder)
        return recorder


class NotFoundPeer:
    """Records every RPC as (method, forwarded token) and answers NOT_FOUND, whether the call is awaited or
    read, as a service answers a caller outside the object's tenant."""

    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls

    def __getattr__(self, method: str) -> Callable[..., FakeCall]:
        if method.startswith("_"):
            raise AttributeError(method)

        def call(request: Any, **kwargs: Any) -> FakeCall:
            self.calls.append((method, access_token_var.get()))

            def refuse() -> Any:
                raise rpc_error(grpc.StatusCode.NOT_FOUND, "no such thing")

            return FakeCall(refuse)

        return call


def not_found_clients(calls: list[tuple[str, str]]) -> Clients:
    """Every peer a `NotFoundPeer` recording into `calls`, every service healthy."""
    peers: dict[str, Any] = {name: NotFoundPeer(calls) for name in SERVICE_NAMES}
    internal = {
        f"{name}_internal": peers[name] for name in ("identity", "consultation", "payment", "notification")
    }
    return Clients(**peers, **internal, health={name: FakeHealth() for name in SERVICE_NAMES})


def make_client(settings: Settings, fakes: Clients, keys: Issuer) -> httpx.AsyncClient:
    """An HTTP client of the gateway app over `fakes`, trusting the tokens `keys` signs."""
    app = create_app(settings, clients=fakes, verifier=keys.verifier())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway.test")


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The problem+json body of `response`, which must be a complete problem with `status`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://counsel.local/problems/")
    assert body["title"] and body["detail"]
    return body


def fields(problem: dict[str, Any]) -> list[str]:
    """The fields a problem body names, in order."""
    return [error["field"] for error in problem.get("errors") or []]


def problem_fields(response: httpx.Response) -> list[str]:
    """The fields a problem+json answer names, in order."""
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE), response.text
    return fields(response.json())


class MemoryBucket:
    """An Object Store bucket in memory, as ExportFiles uses one: objects with their headers."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, dict[str, str]]] = {}

    async def put(self, name: str, data: bytes, meta: ObjectMeta | None = None) -> None:
        self.objects[name] = (data, dict((meta.headers if meta else None) or {}))

    async def get(self, name: str) -> Any:
        if name not in self.objects:
            raise ObjectNotFoundError
        data, headers = self.objects[name]
        return SimpleNamespace(data=data, info=SimpleNamespace(headers=headers))


def memory_export_files(bucket: MemoryBucket | None = None) -> ExportFiles:
    """The gateway's exports over an in-memory bucket, sealed under a test master key."""
    master = StaticMasterKey("t1", {"t1": b"k" * 32})
    return ExportFiles(bucket or MemoryBucket(), master)
