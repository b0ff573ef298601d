"""The browser's WebSockets (a chat, a call's signalling) relayed to the gateway's: the browser's socket carries
only the session cookie, the portal connects upstream with the session's token, so no token reaches a page's
script. The gateway's close code is passed on (4403: not yours to open; 4401 here: reload to sign in again)."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, WebSocketException

from services.portal.gateway import Gateway, SignedOut
from services.portal.session import Session

CLOSE_SIGNED_OUT = 4401
CLOSE_FORBIDDEN = 4403


async def relay_socket(websocket: WebSocket, path: str, subprotocol: str, params: dict[str, str]) -> None:
    """Relays frames both ways between the browser and the gateway's socket at `path`. Only a page of the
    portal may open it (its Origin): the session cookie would otherwise let another site read the frames."""
    origin = websocket.headers.get("origin", "")
    if origin != f"{websocket.url.scheme.replace('ws', 'http')}://{websocket.headers.get('host', '')}":
        await websocket.close(CLOSE_FORBIDDEN)
        return
    session: Session = websocket.scope["state"]["session"]
    gateway: Gateway = websocket.app.state.gateway
    try:
        connection = gateway.socket(session, path, subprotocol, params)
    except SignedOut:
        await websocket.close(CLOSE_SIGNED_OUT)
        return
    try:
        async with connection as upstream:
            await websocket.accept()

            async def to_browser() -> None:
                async for frame in upstream:
                    await websocket.send_text(frame if isinstance(frame, str) else frame.decode())

            async def to_gateway() -> None:
                while True:
                    await upstream.send(await websocket.receive_text())

            relays = [asyncio.create_task(to_browser()), asyncio.create_task(to_gateway())]
            try:
                await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for relay in relays:
                    relay.cancel()
                await asyncio.gather(*relays, return_exceptions=True)
            code = upstream.close_code or 1000
    except (WebSocketException, OSError, WebSocketDisconnect, ConnectionClosed):
        code = 1011
    with contextlib.suppress(RuntimeError):
        await websocket.close(code)
