"""A lean keep-alive HTTP/1.1 client for the load generator.

httpx spends milliseconds of CPU per request once hundreds of connections are open, so at a few hundred
requests per second the generator, not the server under test, was the bottleneck (the gateway's bare echo
and the authenticated route both "topped out" at the same 400 req/s). This client writes a request line
and headers, reads the status line, headers and a Content-Length or chunked body, and keeps the
connection for the next request: tens of microseconds per request."""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit


class HttpStatusError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return jsonlib.loads(self.body)


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]

# Servers close idle keep-alive connections (uvicorn after 5 s): an idle connection older than this is not
# reused, and a reused one the server closed meanwhile is retried once on a new connection, as HTTP clients
# do for idempotent requests. Without it, the first step of a rate search after a busier phase counted the
# server's keep-alive timeouts as the platform's errors.
IDLE_REUSE_SECONDS = 4.0


class LoadClient:
    """`await client.get("/path")` → Response; raises HttpStatusError for 4xx/5xx. At most
    `max_connections` are open; further requests wait for a free one (so the open-loop generator still
    times them from their scheduled start)."""

    def __init__(
        self, base_url: str, headers: Mapping[str, str] | None = None, max_connections: int = 256
    ) -> None:
        url = urlsplit(base_url)
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        fixed = {"host": f"{self.host}:{self.port}", **{k.lower(): v for k, v in (headers or {}).items()}}
        self._headers = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self._idle: list[tuple[_Connection, float]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def __aenter__(self) -> LoadClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for (_, writer), _ in idle:
            writer.close()

    async def get(self, path: str) -> Response:
        return await self.request("GET", path)

    async def post(self, path: str, json: object) -> Response:
        return await self.request("POST", path, jsonlib.dumps(json).encode())

    async def request(self, method: str, path: str, body: bytes | None = None) -> Response:
        head = f"{method} {path} HTTP/1.1\r\n{self._headers}"
        if body is not None:
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        payload = (head + "\r\n").encode() + (body or b"")
        async with self._slots:
            connection = self._reusable()
            reused = connection is not None
            if connection is None:
                connection = await self._open()
            try:
                response, keep = await self._exchange(connection, payload)
            except ConnectionError:
                connection[1].close()
                if not reused:
                    raise
                connection = await self._open()  # the server closed it while it was idle
                try:
                    response, keep = await self._exchange(connection, payload)
                except BaseException:
                    connection[1].close()
                    raise
            except BaseException:
                connection[1].close()
                raise
            if keep:
                self._idle.append((connection, time.monotonic()))
            else:
                connection[1].close()
        if response.status >= 400:
            raise HttpStatusError(response.status, response.body)
        return response

    def _reusable(self) -> _Connection | None:
        """The most recently used idle connection still worth reusing; older ones are closed."""
        while self._idle:
            connection, since = self._idle.pop()
            if time.monotonic() - since < IDLE_REUSE_SECONDS and not connection[0].at_eof():
                return connection
            connection[1].close()
        return None

    async def _open(self) -> _Connection:
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def _exchange(connection: _Connection, payload: bytes) -> tuple[Response, bool]:
        reader, writer = connection
        writer.write(payload)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readline()).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            await reader.readline()
            body = b"".join(chunks)
        else:
            body = b""
        return Response(status, headers, body), headers.get("connection", "").lower() != "close"
