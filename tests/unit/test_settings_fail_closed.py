"""Settings fail closed (R-OPS-3, issue 17 item 0): a process started without COUNSEL_ENV runs as prod — the
unauthenticated development aids (dev outbox with every login code, sandbox payments, hand-made document
orders) are absent, gRPC reflection is off, and a missing secret key stops the process at start with a
message naming it. Only `counsel up` (dev) and the test fixtures (test) say otherwise, explicitly."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any, cast

import grpc
import httpx
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from sqlalchemy import MetaData
from temporalio.service import TLSConfig

from deploy import cli
from deploy.local.stack import Stack, local_settings
from services.gateway.app import create_app
from services.gateway.config import GatewaySettings
from services.identity.config import IdentitySettings
from services.notification.channels import senders_for, unconfigured_channels
from services.notification.config import NotificationSettings
from services.notification.dev_outbox import DevOutbox
from services.payment.config import PaymentSettings, configured_providers
from services.runtime.config import Settings, SettingsError, load_settings
from services.runtime.crypto import FieldCipher
from services.runtime.pki import TlsMaterial
from services.runtime.service import ServiceRuntime
from services.runtime.tables import define_runtime_tables
from services.runtime.temporal import temporal_tls
from tests.support.gateway import not_found_clients
from tests.support.tokens import Issuer

STRONG = secrets.token_urlsafe(48)


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No COUNSEL_* variable at all, as on a fresh host."""
    for name in [name for name in os.environ if name.startswith("COUNSEL_")]:
        monkeypatch.delenv(name)
    yield monkeypatch


def test_the_default_environment_is_prod_and_refuses_to_start_without_a_secret_key(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    """R-OPS-3: nothing set is prod, and prod without COUNSEL_SECRET_KEY does not load."""
    assert Settings.model_fields["env"].default == "prod"
    with pytest.raises(SettingsError, match="COUNSEL_SECRET_KEY") as refused:
        load_settings()
    assert "prod" in str(refused.value)
    for weak in ("short", "change-me-" * 5):
        bare_environment.setenv("COUNSEL_SECRET_KEY", weak)
        with pytest.raises(SettingsError, match="COUNSEL_SECRET_KEY"):
            load_settings()

    bare_environment.setenv("COUNSEL_SECRET_KEY", STRONG)
    settings = load_settings()
    assert settings.env == "prod"
    assert settings.dev_routes is False and settings.grpc_reflection is False


def test_a_process_without_a_secret_key_stops_at_start_with_the_reason(
    bare_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-OPS-3: `counsel serve|gateway|worker|migrate|seed` exit 2 with one line naming the variable, before
    touching anything (no database, no port)."""
    for argv in (["serve", "identity"], ["gateway"], ["worker"], ["migrate"], ["seed"]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"counsel {argv[0]}: invalid settings") and "COUNSEL_SECRET_KEY" in err, err
        assert "Traceback" not in err


def test_a_process_without_its_nats_user_stops_at_start_with_the_reason(
    bare_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-OPS-3 (issue 17 item 3b): in prod, every process that connects to NATS — a service, the gateway,
    `counsel migrate` — exits 2 at start with one line naming COUNSEL_NATS_USER and COUNSEL_NATS_PASSWORD
    when it has no NATS user, before touching NATS, a database or a port."""
    bare_environment.setenv("COUNSEL_SECRET_KEY", STRONG)
    for argv in (["serve", "payment"], ["serve", "identity"], ["gateway"], ["migrate"]):
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(f"counsel {argv[0]}: COUNSEL_NATS_USER and COUNSEL_NATS_PASSWORD"), err
        assert "Traceback" not in err
    bare_environment.setenv("COUNSEL_NATS_USER", "payment")
    assert cli.main(["migrate"]) == 2
    assert "COUNSEL_NATS_PASSWORD must be set" in capsys.readouterr().err


def test_a_process_without_the_master_key_stops_at_start_with_the_reason(
    bare_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 20: in prod a service, the gateway and the worker exit 2 at start naming COUNSEL_MASTER_KEY when
    it is missing or malformed — never serving with personal data or workflow payloads left unsealed."""
    bare_environment.setenv("COUNSEL_SECRET_KEY", STRONG)
    bare_environment.setenv("COUNSEL_NATS_USER", "payment")
    bare_environment.setenv("COUNSEL_NATS_PASSWORD", STRONG)
    for value in ("", "v1=too-short"):
        bare_environment.setenv("COUNSEL_MASTER_KEY", value)
        for argv in (["serve", "payment"], ["gateway"], ["worker"], ["keys", "rotate"]):
            assert cli.main(argv) == 2, argv
            err = capsys.readouterr().err
            assert err.startswith(f"counsel {argv[0]}: COUNSEL_MASTER_KEY"), err
            assert "Traceback" not in err


async def test_the_dev_routes_are_absent_under_the_default_settings(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    """R-OPS-3, R-PRIV-1: with only a secret key set, the gateway has no dev outbox (every login code),
    no sandbox pay page and no hand-made document orders; no request reaches a service."""
    bare_environment.setenv("COUNSEL_SECRET_KEY", STRONG)
    keys = Issuer()
    calls: list[tuple[str, str]] = []
    app = create_app(
        GatewaySettings.from_settings(load_settings()),
        clients=not_found_clients(calls),
        verifier=keys.verifier(),
    )
    agent = keys.headers("user-agent", roles=("agent",), tenant_id="")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
    ) as http:
        outbox = await http.get("/api/v1/dev/outbox", params={"to": "13800138000"})
        sandbox = await http.post("/api/v1/dev/sandbox-pay/pay-1")
        document_order = await http.post(
            "/api/v1/document-orders",
            headers=agent,
            json={"tenant_id": "t", "client_id": "u", "complexity": "standard"},
        )
        paths = (await http.get("/openapi.json")).json()["paths"]
    for response in (outbox, sandbox, document_order):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    assert not [path for path in paths if path.startswith("/api/v1/dev/")]
    assert calls == []

    # The same app under explicit test settings does have them: the check above can fail.
    test_app = create_app(
        GatewaySettings(env="test"), clients=not_found_clients(calls), verifier=keys.verifier()
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=test_app), base_url="http://gateway.test"
    ) as http:
        assert "/api/v1/dev/outbox" in (await http.get("/openapi.json")).json()["paths"]


def test_services_offer_no_dev_outbox_or_sandbox_under_the_default_settings(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    """Notification captures nothing in the dev outbox and payment offers no sandbox provider in prod."""
    bare_environment.setenv("COUNSEL_SECRET_KEY", STRONG)
    settings = load_settings()
    dev_outbox = DevOutbox(cast(Any, None), cast(Any, None), FieldCipher(STRONG))  # offered, and not taken
    assert (
        len(unconfigured_channels(senders_for(NotificationSettings.from_settings(settings), dev_outbox))) == 2
    )
    assert "sandbox" not in configured_providers(PaymentSettings.from_settings(settings))
    assert "sandbox" in configured_providers(PaymentSettings.from_settings(load_settings(env="test")))


def test_wechat_login_fails_closed(bare_environment: pytest.MonkeyPatch) -> None:
    """No WeChat app, no `wechat` provider; an app id without its secret stops the process; in prod the
    secret goes to WeChat's own endpoints only (a stand-in's address is for the tests)."""
    bare_environment.setenv("COUNSEL_SECRET_KEY", STRONG)
    assert IdentitySettings.from_settings(load_settings()).wechat_app() is None
    bare_environment.setenv("COUNSEL_WECHAT_LOGIN_APP_ID", "wx5e1f0c7d2a9b3c41")
    with pytest.raises(SettingsError, match="COUNSEL_WECHAT_LOGIN_APP_SECRET"):
        IdentitySettings.from_settings(load_settings())
    bare_environment.setenv("COUNSEL_WECHAT_LOGIN_APP_SECRET", secrets.token_hex(16))
    app = IdentitySettings.from_settings(load_settings()).wechat_app()
    assert app is not None and app.api_url == "https://api.weixin.qq.com"
    bare_environment.setenv("COUNSEL_WECHAT_LOGIN_API_URL", "http://127.0.0.1:9999")
    with pytest.raises(SettingsError, match="COUNSEL_WECHAT_LOGIN_API_URL"):
        IdentitySettings.from_settings(load_settings())
    assert IdentitySettings.from_settings(load_settings(env="test")).wechat_app() is not None


async def _reflection_answers(port: int, tls: TlsMaterial) -> bool:
    credentials = grpc.ssl_channel_credentials(tls.ca, tls.key, tls.cert)
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        call = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo()
        try:
            # A server without reflection ends the call at once: the refusal can arrive while the request
            # is still being written, so the write is inside the try too.
            await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
            reply = await call.read()
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.UNIMPLEMENTED
            return False
        await call.done_writing()
        return bool(reply.list_services_response.service)


@pytest.mark.parametrize(("env", "reflects"), [("prod", False), ("test", True)])
async def test_grpc_reflection_is_off_in_prod(
    bare_environment: pytest.MonkeyPatch, pki: Any, env: str, reflects: bool
) -> None:
    """R-OPS-3: a service's gRPC server lists its methods (to any counsel process) only in dev and test."""
    settings = load_settings(
        env=env, secret_key=STRONG, database_url="postgresql://nobody@127.0.0.1:1", grpc_listen="127.0.0.1:0"
    )
    settings = pki.settings(settings, "catalog")
    runtime = ServiceRuntime(settings, "catalog", define_runtime_tables(MetaData()), jwks=None)
    server = runtime.grpc_server()
    port = await server.start()
    try:
        assert await _reflection_answers(port, pki("operator")) is reflects
    finally:
        await server.stop(0)
        await runtime.db.close()


def test_counsel_up_runs_its_processes_as_dev_explicitly(bare_environment: pytest.MonkeyPatch) -> None:
    """`counsel up` is the one place that chooses dev, and says so to every process it starts; an explicit
    COUNSEL_ENV (the e2e tests' test) is kept."""
    stack = Stack(local_settings())
    assert stack.settings.env == "dev"
    assert stack.process_env()["COUNSEL_ENV"] == "dev"
    bare_environment.setenv("COUNSEL_ENV", "test")
    assert Stack(local_settings()).process_env()["COUNSEL_ENV"] == "test"


def test_temporal_is_reached_with_mutual_tls_beyond_loopback_in_prod(pki: Any) -> None:
    """Issue 17 item 3b: a workflow engine anyone can reach can signal or terminate any order's process, so in
    prod plaintext goes only to a frontend on this machine's loopback; with COUNSEL_TEMPORAL_TLS each process
    presents its own counsel certificate and checks the frontend's under the configured name."""
    remote = Settings(env="prod", secret_key=STRONG, temporal_address="temporal-frontend:7233")
    with pytest.raises(SettingsError, match="COUNSEL_TEMPORAL_TLS"):
        temporal_tls(remote)
    for local in ("127.0.0.1:7233", "localhost:7233", "[::1]:7233"):
        assert temporal_tls(Settings(env="prod", secret_key=STRONG, temporal_address=local)) is False
    assert temporal_tls(Settings(env="test", temporal_address="temporal-frontend:7233")) is False
    secured = pki.settings(
        Settings(
            env="prod",
            secret_key=STRONG,
            temporal_address="temporal-frontend:7233",
            temporal_tls=True,
            temporal_tls_server_name="temporal-frontend",
        ),
        "worker",
    )
    config = temporal_tls(secured)
    assert isinstance(config, TLSConfig)
    own = secured.tls()
    assert (config.client_cert, config.client_private_key) == (own.cert, own.key)
    assert config.server_root_ca_cert == own.ca and config.domain == "temporal-frontend"
