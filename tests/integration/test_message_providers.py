"""Login codes outside dev/test go out through real providers (R-ACC-1, R-ACC-2): SMS through Alibaba Cloud's
SendSms (RPC signature v1, HMAC-SHA1) — here a local HTTP server that checks every request's signature the way
the provider does — and e-mail through SMTP (aiosmtpd). The whole path is real: gateway app → identity →
notification (in-process gRPC servers, `env=prod`) on real PostgreSQL and NATS. Without a provider a code
request is a 503 problem, never a code that silently goes nowhere."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_string
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from deploy.local.servers import NatsServer, PostgresServer, free_port
from services.gateway.app import create_app
from services.gateway.clients import Connections
from services.gateway.config import GatewaySettings
from services.identity import main as identity_main
from services.notification import main as notification_main
from services.notification.channels import SendError
from services.notification.config import NotificationSettings
from services.notification.sms import AliyunSmsSender
from services.runtime.config import Settings
from tests.support.journeys import PRIVACY_POLICY_VERSION, one_time_code
from tests.support.platform import (
    isolated_settings,
    migrate_databases,
    serving_in_process,
    until_identity_answers,
)

ACCESS_KEY_ID = "LTAI-test-key"
ACCESS_KEY_SECRET = "test-secret-" + "x" * 20
TEMPLATES = {"otp": "SMS_100001", "invitation": "SMS_100002", "default": "SMS_100003"}
SIGN_NAME = "律师助手"
_ips = iter(range(1, 250))


# --- a provider that checks signatures as Alibaba Cloud does ------------------------------------------------


@dataclass
class SmsProvider:
    """Accepts SendSms calls whose signature verifies with the secret of `ACCESS_KEY_ID`; keeps them."""

    port: int
    accepted: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    busy_numbers: set[str] = field(default_factory=set)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def answer(self, method: str, form: dict[str, str]) -> tuple[int, dict[str, str]]:
        # Written from the provider's published rules, independently of services/notification/sms.py.
        def enc(text: str) -> str:
            return quote(text, safe="-_.~")

        canonical = "&".join(f"{enc(k)}={enc(form[k])}" for k in sorted(form) if k != "Signature")
        to_sign = f"{method}&{enc('/')}&{enc(canonical)}"
        expected = base64.b64encode(
            hmac.new((ACCESS_KEY_SECRET + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if form.get("AccessKeyId") != ACCESS_KEY_ID:
            return 404, {"Code": "InvalidAccessKeyId.NotFound"}
        if not hmac.compare_digest(form.get("Signature", ""), expected):
            return 400, {"Code": "SignatureDoesNotMatch"}
        missing = {"Action", "Version", "Timestamp", "SignatureNonce", "PhoneNumbers", "SignName"} - set(form)
        if missing or form["Action"] != "SendSms" or form["SignatureMethod"] != "HMAC-SHA1":
            return 400, {"Code": "MissingParameter"}
        if form["PhoneNumbers"] in self.busy_numbers:
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}
        self.accepted.append(form)
        return 200, {"Code": "OK", "Message": "OK", "BizId": secrets.token_hex(8)}


@pytest.fixture(scope="module")
def sms_provider() -> Iterator[SmsProvider]:
    provider = SmsProvider(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            status, body = provider.answer("POST", form)
            if status != 200 or body["Code"] != "OK":
                provider.refused.append(body["Code"])
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", provider.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()


@dataclass
class Mailbox:
    received: list[tuple[list[str], str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp() -> Iterator[tuple[Mailbox, int]]:
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


# --- the platform in prod mode --------------------------------------------------------------------------


def prod_settings(
    postgres_server: PostgresServer, nats_server: NatsServer, **providers: Any
) -> NotificationSettings:
    return isolated_settings(
        postgres_server,
        nats_server,
        settings_type=NotificationSettings,
        env="prod",
        metrics_port=0,
        log_level="WARNING",
        secret_key=secrets.token_urlsafe(48),
        master_key=SecretStr(f"v1={base64.b64encode(secrets.token_bytes(32)).decode()}"),  # prod requires one
        identity_addr=f"127.0.0.1:{free_port()}",
        notification_addr=f"127.0.0.1:{free_port()}",
        **providers,
    )


def as_process(settings: Settings, pki: Any, process: str) -> Settings:
    """`settings` as `process` runs with them in prod: its certificate and its own NATS user, which prod
    requires (R-OPS-3). The shared test NATS has no authorization, so it takes any password."""
    return pki.settings(settings, process).model_copy(
        update={"nats_user": process, "nats_password": SecretStr("unchecked-by-the-test-server")}
    )


@asynccontextmanager
async def gateway(settings: Settings, pki: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app over identity and notification servers running in this process."""
    await migrate_databases(settings, "identity", "notification")
    async with serving_in_process(
        identity_main.serve(as_process(settings, pki, "identity")),
        notification_main.serve(as_process(settings, pki, "notification")),
    ):
        settings = as_process(settings, pki, "gateway")
        connections = Connections(settings)
        try:
            await until_identity_answers(connections.clients)
            app = create_app(GatewaySettings.from_settings(settings), clients=connections.clients)
            transport = httpx.ASGITransport(app=app, client=(f"10.9.0.{next(_ips)}", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
                yield http
        finally:
            await connections.close()


@pytest.fixture(scope="module")
def configured(
    postgres_server: PostgresServer,
    nats_server: NatsServer,
    sms_provider: SmsProvider,
    smtp: tuple[Mailbox, int],
) -> NotificationSettings:
    return prod_settings(
        postgres_server,
        nats_server,
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_sender="noreply@counsel.example",
        sms_provider="aliyun",
        sms_access_key_id=ACCESS_KEY_ID,
        sms_access_key_secret=ACCESS_KEY_SECRET,
        sms_sign_name=SIGN_NAME,
        sms_templates=json.dumps(TEMPLATES),
        sms_endpoint=sms_provider.endpoint,
    )


async def test_an_sms_code_goes_out_signed_through_the_provider_and_registers(
    configured: Settings, sms_provider: SmsProvider, pki: Any
) -> None:
    async with gateway(configured, pki) as http:
        phone = "13912345678"
        sent = await http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": phone})
        assert sent.status_code == 202, sent.text
        (call,) = [c for c in sms_provider.accepted if c["PhoneNumbers"] == phone]
        assert (call["TemplateCode"], call["SignName"], call["RegionId"]) == (
            "SMS_100001",
            SIGN_NAME,
            "cn-hangzhou",
        )
        code = json.loads(call["TemplateParam"])["code"]
        assert len(code) == 6 and code.isdigit()
        # The code the provider delivered is the one identity accepts.
        registered = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": phone,
                "code": code,
                "display_name": "王",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert registered.status_code == 201, registered.text
        # No dev outbox outside dev/test.
        assert (await http.get("/api/v1/dev/outbox", params={"to": phone})).status_code == 404


async def test_an_email_code_goes_out_over_smtp(
    configured: Settings, smtp: tuple[Mailbox, int], pki: Any
) -> None:
    mailbox, _ = smtp
    async with gateway(configured, pki) as http:
        address = f"li-{secrets.token_hex(3)}@example.com"
        sent = await http.post("/api/v1/auth/otp", json={"channel": "email", "destination": address})
        assert sent.status_code == 202, sent.text
        (raw,) = [content for recipients, content in mailbox.received if address in recipients]
        message = message_from_string(raw, policy=default)
        assert message["From"] == "noreply@counsel.example"
        text = message.get_body(preferencelist=("plain",))
        assert text is not None
        registered = await http.post(
            "/api/v1/auth/register",
            json={
                "email": address,
                "code": one_time_code(text.get_content()),
                "display_name": "李",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert registered.status_code == 201, registered.text


async def test_a_provider_refusal_or_a_missing_provider_is_a_503_problem(
    configured: Settings,
    postgres_server: PostgresServer,
    nats_server: NatsServer,
    sms_provider: SmsProvider,
    capfd: pytest.CaptureFixture[str],
    pki: Any,
) -> None:
    async with gateway(configured, pki) as http:
        sms_provider.busy_numbers.add("13700000001")  # the provider's per-number flow control
        refused = await http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": "13700000001"})
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")

    async with gateway(
        prod_settings(postgres_server, nats_server), pki
    ) as http:  # no SMTP host, no SMS provider
        for channel, destination in (("sms", "13700000002"), ("email", "nobody@example.com")):
            answer = await http.post(
                "/api/v1/auth/otp", json={"channel": channel, "destination": destination}
            )
            assert answer.status_code == 503, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert answer.json()["status"] == 503
    # The operator was warned when notification started.
    started = capfd.readouterr()
    warnings = [line for line in (started.out + started.err).splitlines() if "provider is configured" in line]
    assert any("no sms provider" in line for line in warnings), warnings
    assert any("no email provider" in line for line in warnings), warnings


async def test_the_provider_refuses_a_wrong_signature_and_the_sender_says_whether_to_retry(
    configured: Settings, sms_provider: SmsProvider
) -> None:
    forged = configured.model_copy(
        update={"sms_access_key_secret": configured.sms_access_key_secret.__class__("nope")}
    )
    with pytest.raises(SendError) as wrong:
        await AliyunSmsSender(forged).send(
            None, "+8613600000000", "", "x", template="otp", params={"code": "1"}
        )  # type: ignore[arg-type]
    assert sms_provider.refused[-1] == "SignatureDoesNotMatch" and wrong.value.permanent

    sms_provider.busy_numbers.add("13600000001")
    with pytest.raises(SendError) as busy:
        await AliyunSmsSender(configured).send(
            None, "+8613600000001", "", "x", template="otp", params={"code": "1"}
        )  # type: ignore[arg-type]
    assert not busy.value.permanent  # flow control: worth a retry

    # A status notification without its own template goes out as the default one, its text as ${content}.
    await AliyunSmsSender(configured).send(None, "+85291234567", "已回复", "您的咨询已回复")  # type: ignore[arg-type]
    last = sms_provider.accepted[-1]
    assert (last["PhoneNumbers"], last["TemplateCode"]) == ("85291234567", "SMS_100003")
    assert json.loads(last["TemplateParam"]) == {"content": "已回复\n您的咨询已回复"}
