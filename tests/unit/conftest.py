"""The gateway over fake peers, for the unit tests of its routes (tests/support/gateway.py): `keys` signs the
tokens the app trusts, `fakes` are its peers, `client` talks to it without rate limits, `auth` is a signed-in
client's headers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.config import GatewaySettings
from tests.support.gateway import FakeClients, make_client
from tests.support.tokens import Issuer


@pytest.fixture(scope="module")
def keys() -> Issuer:
    return Issuer()


@pytest.fixture
def fakes() -> FakeClients:
    return FakeClients()


@pytest.fixture
async def client(fakes: FakeClients, keys: Issuer) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(
        GatewaySettings(env="test", gateway_rate_per_ip=0, gateway_rate_per_token=0), fakes, keys
    ) as http:
        yield http


@pytest.fixture
def auth(keys: Issuer) -> dict[str, str]:
    return keys.headers()
