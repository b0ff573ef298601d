"""The Temporal UI's codec server on the gateway: Temporal's protocol (`{"payloads": [...]}` in proto3 JSON),
a staff token, CORS for the configured UI origin only."""

from __future__ import annotations

import base64

from services.gateway.config import GatewaySettings
from tests.support.gateway import FakeClients, assert_problem, make_client
from tests.support.tokens import Issuer

UI = "https://temporal.counsel.test"
SETTINGS = GatewaySettings(
    env="test",
    secret_key="codec-test-" * 4,
    temporal_ui_origin=UI,
    gateway_rate_per_ip=0,
    gateway_rate_per_token=0,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_a_supervisor_round_trips_payloads_from_the_ui_origin() -> None:
    keys = Issuer()
    plain = {"metadata": {"encoding": _b64(b"json/plain")}, "data": _b64(b'{"question":"marker-c0de"}')}
    async with make_client(SETTINGS, FakeClients(), keys) as http:
        headers = {
            **keys.headers(roles=("supervisor",), tenant_id=""),
            "Origin": UI,
            "X-Namespace": "default",
        }
        encoded = await http.post("/codec/encode", json={"payloads": [plain]}, headers=headers)
        assert encoded.status_code == 200, encoded.text
        assert encoded.headers["access-control-allow-origin"] == UI
        [sealed] = encoded.json()["payloads"]
        assert base64.b64decode(sealed["metadata"]["encryption-key-id"]) == b"master:dev"
        assert b"marker" not in base64.b64decode(sealed["data"])
        decoded = await http.post("/codec/decode", json={"payloads": [sealed]}, headers=headers)
        assert decoded.json() == {"payloads": [plain]}


async def test_clients_and_other_origins_are_refused() -> None:
    keys = Issuer()
    async with make_client(SETTINGS, FakeClients(), keys) as http:
        refused = await http.post("/codec/decode", json={"payloads": []}, headers=keys.headers())
        assert_problem(refused, 403)
        assert_problem(await http.post("/codec/decode", json={"payloads": []}), 401)
        staff = {**keys.headers(roles=("supervisor",), tenant_id=""), "Origin": "https://evil.example"}
        answered = await http.post("/codec/decode", json={"payloads": []}, headers=staff)
        assert answered.status_code == 200 and "access-control-allow-origin" not in answered.headers
        preflight = {"Origin": UI, "Access-Control-Request-Method": "POST"}
        allowed = await http.options("/codec/decode", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == UI
        assert "Authorization" in allowed.headers["access-control-allow-headers"]
        elsewhere = await http.options(
            "/codec/decode", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in elsewhere.headers


async def test_an_unknown_key_id_is_bad_input_not_a_server_error() -> None:
    keys = Issuer()
    foreign = {
        "metadata": {"encoding": _b64(b"binary/encrypted"), "encryption-key-id": _b64(b"master:v9")},
        "data": _b64(b"\0" * 40),
    }
    async with make_client(SETTINGS, FakeClients(), keys) as http:
        headers = keys.headers(roles=("supervisor",), tenant_id="")
        problem = assert_problem(
            await http.post("/codec/decode", json={"payloads": [foreign]}, headers=headers), 422
        )
        assert "master:v9" in problem["errors"][0]["message"]
