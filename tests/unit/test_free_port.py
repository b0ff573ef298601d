"""`counsel up` gives every server its own port (R-OPS-1): the launcher asks `free_port` for one per service at
once, and the OS may pick a port again as soon as it was given back. Two services on one port meant the second
failed to bind and was given up on (make test, documents and payment both on 127.0.0.1:45611)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from deploy.local import servers


class OsPicks:
    """A socket whose `bind((host, 0))` gets the next port of a fixed sequence, as the OS would pick them."""

    def __init__(self, picks: Iterator[int]) -> None:
        self._picks = picks
        self._port = 0

    def __enter__(self) -> OsPicks:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def bind(self, address: tuple[str, int]) -> None:
        self._port = next(self._picks)

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self._port)


def test_a_port_the_os_picks_again_is_not_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    picks = iter([41001, 41001, 41001, 41002])
    monkeypatch.setattr(servers, "_HANDED_OUT", set())
    monkeypatch.setattr(servers.socket, "socket", lambda *_: OsPicks(picks))

    assert [servers.free_port(), servers.free_port()] == [41001, 41002]


def test_each_port_is_free_to_listen_on() -> None:
    port = servers.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
