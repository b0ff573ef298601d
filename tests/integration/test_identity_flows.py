"""Every way to register and log in, through the real gateway app, the real identity and notification
services (in-process gRPC servers) and real PostgreSQL and NATS: codes read from the dev outbox
(R-ACC-1, R-ACC-2), refresh rotation and reuse, logout, rate limits and lockout (429 with Retry-After),
membership cards, invitations (R-ACC-4), the export and the append-only audit trail (R-PRIV-1), and
the forged-token matrix, and social logins (OpenID Connect, and WeChat's own OAuth 2.0) against stand-ins."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
import httpx
import jwt
import pytest
from sqlalchemy import select, text

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.documents.v1 import events_pb2 as documents_events
from counsel.identity.v1 import identity_service_pb2 as identity_pb
from deploy.local.servers import NatsServer, PostgresServer, free_port
from services.gateway.app import create_app
from services.gateway.clients import Connections
from services.gateway.config import GatewaySettings
from services.identity import domain, tokens
from services.identity import main as identity_main
from services.identity.config import IdentitySettings
from services.identity.models import DATA_KEYS
from services.identity.models import TABLES as IDENTITY_TABLES
from services.identity.seed import (
    DEMO_ENTERPRISE_ID,
    DEMO_FIRM_ID,
    DEMO_PASSWORD,
    demo_email,
    demo_user_id,
    seed_demo,
)
from services.identity.store import IdentityStores
from services.identity.wechat import WeChatApp, WeChatLogin
from services.notification import main as notification_main
from services.runtime.context import FIRM_SERVICE_ROLE, Principal, access_token_var
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database
from services.runtime.errors import Conflict, NotFound, Unauthenticated
from services.runtime.events import EventBus, Outbox
from services.runtime.keys import DataKeys, master_key
from services.runtime.service import token_verifier
from tests.support.factories import envelope
from tests.support.gateway import problem_fields
from tests.support.journeys import PRIVACY_POLICY_VERSION, one_time_code
from tests.support.oidc_provider import Client, EndUser, Provider, running_provider
from tests.support.platform import (
    isolated_settings,
    migrate_databases,
    migrated_databases,
    serving_in_process,
    until_identity_answers,
)
from tests.support.wechat_provider import RegisteredApp, WeChat, WeChatUser, running_wechat

POLICY = domain.AuthPolicy(
    otp_per_destination=domain.Limit(3, timedelta(hours=1)),
    otp_per_ip=domain.Limit(6, timedelta(hours=1)),
    failures_per_identifier=domain.Limit(3, timedelta(minutes=15)),
    failures_per_ip=domain.Limit(8, timedelta(minutes=15)),
)
PASSWORD = "Str0ng-Enough!"
# COUNSEL_INVITATIONS_PER_ENTERPRISE_PER_DAY of the stack: every test invites from its own enterprise.
INVITATIONS_PER_DAY = 3
_phones = itertools.count(13900000001)
_ips = itertools.count(1)


def new_phone() -> str:
    return str(next(_phones))


OIDC_CALLBACK = "http://gateway.test/api/v1/auth/oauth/demo/callback"
WECHAT_CALLBACK = "http://gateway.test/api/v1/auth/oauth/wechat/callback"
# The firm's website app, and its mini program in the same Open Platform account (same unionids).
WECHAT_WEBSITE = RegisteredApp("wx5e1f0c7d2a9b3c41", secrets.token_hex(16), "gateway.test")
WECHAT_MINI_PROGRAM = RegisteredApp("wx0a7b6c5d4e3f2a19", secrets.token_hex(16), "gateway.test")


@dataclass
class Stack:
    settings: IdentitySettings
    app: Any
    connections: Connections
    identity_db: Database
    cipher: FieldCipher
    data_keys: DataKeys
    provider: Provider
    as_notification: Connections
    wechat: WeChat

    def http(self) -> httpx.AsyncClient:
        """A client from its own IP address, so per-IP limits of one test never touch another."""
        ip = f"10.0.{next(_ips) // 250}.{next(_ips) % 250 + 1}"
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway.test")


@pytest.fixture(scope="module")
async def stack(postgres_server: PostgresServer, nats_server: NatsServer, pki: Any) -> AsyncIterator[Stack]:
    provider_port, wechat_port = free_port(), free_port()
    oidc_client = Client("counsel-test", secrets.token_urlsafe(24), [OIDC_CALLBACK])
    providers = {
        "demo": {
            "issuer": f"http://127.0.0.1:{provider_port}",
            "client_id": oidc_client.client_id,
            "client_secret": oidc_client.client_secret,
        }
    }
    settings = isolated_settings(
        postgres_server,
        nats_server,
        settings_type=IdentitySettings,
        oidc_providers=json.dumps(providers),
        wechat_login_app_id=WECHAT_WEBSITE.app_id,
        wechat_login_app_secret=WECHAT_WEBSITE.secret,
        wechat_login_authorize_url=f"http://127.0.0.1:{wechat_port}/connect/qrconnect",
        wechat_login_api_url=f"http://127.0.0.1:{wechat_port}",
        metrics_port=0,
        log_level="WARNING",
        secret_key=secrets.token_urlsafe(32),
        token_revocation_poll_seconds=0,  # every verification asks identity: revocations show at once
        invitations_per_enterprise_per_day=INVITATIONS_PER_DAY,
        identity_addr=f"127.0.0.1:{free_port()}",
        notification_addr=f"127.0.0.1:{free_port()}",
    )
    await migrate_databases(settings, "notification")
    cipher = FieldCipher(settings.secret_key)
    async with migrated_databases(settings, "identity", pool_size=2) as databases:
        identity_db = databases["identity"]
        data_keys = DataKeys(identity_db, master_key(settings), DATA_KEYS)
        await seed_demo(
            IdentityStores.build(
                identity_db, Outbox("identity", settings, IDENTITY_TABLES), cipher, data_keys, settings
            ).accounts
        )
        async with serving_in_process(
            identity_main.serve(pki.settings(settings, "identity"), POLICY),
            notification_main.serve(pki.settings(settings, "notification")),
        ):
            settings = pki.settings(settings, "gateway")
            connections = Connections(settings)
            # What the notification service calls identity with (contact addresses are for it alone).
            as_notification = Connections(pki.settings(settings, "notification"))
            try:
                await until_identity_answers(connections.clients)
                app = create_app(GatewaySettings.from_settings(settings), clients=connections.clients)
                async with (
                    running_provider(provider_port, oidc_client) as provider,
                    running_wechat(wechat_port, WECHAT_WEBSITE, WECHAT_MINI_PROGRAM) as wechat,
                ):
                    yield Stack(
                        settings,
                        app,
                        connections,
                        identity_db,
                        cipher,
                        data_keys,
                        provider,
                        as_notification,
                        wechat,
                    )
            finally:
                await as_notification.close()
                await connections.close()


# --- helpers -------------------------------------------------------------------------------------------


async def latest_code(http: httpx.AsyncClient, to: str) -> str:
    response = await http.get("/api/v1/dev/outbox", params={"to": to})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items, f"no message to {to}"
    return one_time_code(items[0]["body"])


async def send_code(http: httpx.AsyncClient, channel: str, destination: str) -> str:
    response = await http.post("/api/v1/auth/otp", json={"channel": channel, "destination": destination})
    assert response.status_code == 202, response.text
    return await latest_code(http, destination)


async def register_by_phone(http: httpx.AsyncClient, **extra: Any) -> tuple[str, dict[str, Any]]:
    phone = new_phone()
    code = await send_code(http, "sms", phone)
    body = {
        "phone": phone,
        "code": code,
        "display_name": "李雷",
        "privacy_policy_version": PRIVACY_POLICY_VERSION,
    }
    body |= extra
    response = await http.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    return phone, response.json()


async def password_login(http: httpx.AsyncClient, identifier: str, secret: str) -> httpx.Response:
    return await http.post(
        "/api/v1/auth/login", json={"method": "password", "identifier": identifier, "secret": secret}
    )


def bearer(tokens_body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens_body['access_token']}"}


# --- registration and login -----------------------------------------------------------------------------


async def test_register_by_phone_code_then_log_in_by_password_and_by_code(stack: Stack) -> None:
    """R-ACC-1 (phone + SMS code) and R-ACC-2 (phone login by password and by code reach one account)."""
    async with stack.http() as http:
        phone, registered = await register_by_phone(
            http, password=PASSWORD, enterprise_name="李氏科技有限公司"
        )
        user = registered["user"]
        assert user["roles"] == ["client_admin"] and user["tenant_id"]
        assert user["phone"] == f"+86{phone}"
        assert registered["expires_in"] <= 900 and registered["refresh_token"]

        me = (await http.get("/api/v1/me", headers=bearer(registered))).json()
        assert me["enterprise"] == {"id": user["tenant_id"], "name": "李氏科技有限公司", "industry": None}
        assert me["login_methods"]["password"] is True and me["login_methods"]["phone"] == f"+86{phone}"

        by_password = await password_login(http, f"+86 {phone}", PASSWORD)
        assert by_password.status_code == 200, by_password.text
        assert by_password.json()["user"]["id"] == user["id"]

        code = await send_code(http, "sms", f"+86{phone}")
        login = {"method": "otp", "identifier": phone, "secret": code}
        by_code = await http.post("/api/v1/auth/login", json=login)
        assert by_code.status_code == 200, by_code.text
        assert by_code.json()["user"]["id"] == user["id"]
        # Single use.
        again = await http.post("/api/v1/auth/login", json=login)
        assert again.status_code == 401


async def test_registering_accepts_the_privacy_policy_and_may_consent_to_marketing(stack: Stack) -> None:
    """Issue 20: registration records the policy version accepted (in the export); without it, or with
    another, it is 422 naming privacy_policy_version; marketing consent given there lands in the one record
    of it, the notification preferences."""
    async with stack.http() as http:
        phone = new_phone()
        body = {"phone": phone, "code": await send_code(http, "sms", phone), "display_name": "李雷"}
        for version in ("", "1999-01-01"):
            refused = await http.post(
                "/api/v1/auth/register", json=body | {"privacy_policy_version": version}
            )
            assert refused.status_code == 422, refused.text
            assert problem_fields(refused) == ["privacy_policy_version"]
            assert PRIVACY_POLICY_VERSION in refused.json()["detail"]
        _, registered = await register_by_phone(http, marketing_consent=True)
        export = await identity_export(stack, registered)
        assert [(c["privacy_policy_version"], c["via"]) for c in export["consents"]] == [
            (PRIVACY_POLICY_VERSION, "register")
        ]

        async def marketing_consent() -> bool:
            answer = await http.get("/api/v1/me/notification-preferences", headers=bearer(registered))
            return bool(answer.json()["marketing_consent"])

        deadline = time.monotonic() + 20
        while not await marketing_consent():
            assert time.monotonic() < deadline, "marketing consent never reached the preferences"
            await asyncio.sleep(0.2)


async def test_a_new_policy_version_is_accepted_at_the_next_login(stack: Stack) -> None:
    """Issue 20: after a new version, a login is 409 naming privacy_policy_version (with the version and its
    URL) until one sends that version, which records the acceptance."""
    async with stack.http() as http:
        phone, _ = await register_by_phone(http, password=PASSWORD)
    newer = stack.settings.model_copy(
        update={"privacy_policy_version": "2099-01-01", "privacy_policy_url": "https://counsel.example/pp"}
    )
    logins = IdentityStores.build(
        stack.identity_db, Outbox("identity", newer, IDENTITY_TABLES), stack.cipher, stack.data_keys, newer
    ).logins
    attempt = domain.validate_login("password", phone, PASSWORD)
    with pytest.raises(Conflict) as refused:
        await logins.login(attempt)
    assert refused.value.reason == "consent_required"
    assert [v.field for v in refused.value.violations] == ["privacy_policy_version"]
    assert "2099-01-01" in refused.value.message and "https://counsel.example/pp" in refused.value.message
    signed = await logins.login(attempt, privacy_policy_version="2099-01-01")
    assert (await logins.login(attempt)).user.row.id == signed.user.row.id  # accepted: not asked again
    async with stack.identity_db.transaction() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT privacy_policy_version, via FROM consents WHERE user_id = :id ORDER BY accepted_at"
                ),
                {"id": signed.user.row.id},
            )
        ).all()
    assert [tuple(r) for r in rows] == [(PRIVACY_POLICY_VERSION, "register"), ("2099-01-01", "login")]


async def test_register_by_email_without_password_and_profile_update(stack: Stack) -> None:
    """R-ACC-1 (e-mail + code); an individual is a client of their own tenant; PATCH /me."""
    async with stack.http() as http:
        email = f"wang.{secrets.token_hex(3)}@example.com"
        code = await send_code(http, "email", email)
        response = await http.post(
            "/api/v1/auth/register",
            json={
                "email": email.upper(),
                "code": code,
                "display_name": "王芳",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert response.status_code == 201, response.text
        registered = response.json()
        assert registered["user"]["email"] == email and registered["user"]["roles"] == ["client"]
        # No password was chosen: password login fails like any wrong password.
        assert (await password_login(http, email, "Anything-1!")).status_code == 401

        patched = await http.patch("/api/v1/me", json={"display_name": "王芳芳"}, headers=bearer(registered))
        assert patched.status_code == 200, patched.text
        assert (
            patched.json()["display_name"] == "王芳芳"
            and patched.json()["login_methods"]["password"] is False
        )
        assert (
            await http.patch("/api/v1/me", json={"nickname": "x"}, headers=bearer(registered))
        ).status_code == 422

        # Registering the same (proven) address again is a conflict, not a second account.
        code = await send_code(http, "email", email)
        dup = await http.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "code": code,
                "display_name": "X",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert dup.status_code == 409


async def test_bad_input_is_422_naming_the_field(stack: Stack) -> None:
    async with stack.http() as http:
        cases = [
            ("/api/v1/auth/otp", {"channel": "sms", "destination": "12345"}, "destination"),
            ("/api/v1/auth/otp", {"channel": "email", "destination": "not-an-email"}, "destination"),
            ("/api/v1/auth/otp", {"channel": "fax", "destination": "13800138000"}, "channel"),
            (
                "/api/v1/auth/register",
                {
                    "phone": "1380013",
                    "code": "123456",
                    "display_name": "x",
                    "privacy_policy_version": PRIVACY_POLICY_VERSION,
                },
                "phone",
            ),
            (
                "/api/v1/auth/register",
                {
                    "email": "a@b",
                    "code": "123456",
                    "display_name": "x",
                    "privacy_policy_version": PRIVACY_POLICY_VERSION,
                },
                "email",
            ),
            (
                "/api/v1/auth/register",
                {
                    "phone": new_phone(),
                    "code": "123456",
                    "password": "password",
                    "display_name": "x",
                    "privacy_policy_version": PRIVACY_POLICY_VERSION,
                },
                "password",
            ),
            (
                "/api/v1/auth/register",
                {
                    "phone": new_phone(),
                    "code": "12",
                    "display_name": "x",
                    "privacy_policy_version": PRIVACY_POLICY_VERSION,
                },
                "code",
            ),
            (
                "/api/v1/auth/register",
                {
                    "phone": new_phone(),
                    "code": "123456",
                    "display_name": "x",
                    "privacy_policy_version": PRIVACY_POLICY_VERSION,
                    "enterprise_name": "访问 evil.example",
                },
                "enterprise_name",
            ),
            ("/api/v1/auth/login", {"method": "otp", "identifier": "nope", "secret": "123456"}, "identifier"),
            (
                "/api/v1/auth/login",
                {"method": "membership_card", "identifier": "x!", "secret": "1"},
                "identifier",
            ),
        ]
        for path, body, field in cases:
            response = await http.post(path, json=body)
            assert response.status_code == 422, (path, body, response.text)
            assert field in problem_fields(response), (body, response.text)

        # A well-formed but wrong code.
        phone = new_phone()
        await send_code(http, "sms", phone)
        wrong = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": phone,
                "code": "000000",
                "display_name": "x",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        # (1 in a million that the real code is 000000)
        assert wrong.status_code == 422 and problem_fields(wrong) == ["code"]


async def test_code_requests_never_reveal_whether_an_account_exists(stack: Stack) -> None:
    async with stack.http() as http:
        registered_phone, _ = await register_by_phone(http)
        for destination in (registered_phone, new_phone()):
            response = await http.post(
                "/api/v1/auth/otp", json={"channel": "sms", "destination": destination}
            )
            assert (response.status_code, response.json()) == (202, {"status": "sent", "expires_in": 300})
        for email in (demo_email("client"), f"nobody.{secrets.token_hex(3)}@example.com"):
            response = await http.post("/api/v1/auth/otp", json={"channel": "email", "destination": email})
            assert (response.status_code, response.json()) == (202, {"status": "sent", "expires_in": 300})


# --- limits ---------------------------------------------------------------------------------------------


async def test_codes_are_limited_per_destination_with_retry_after(stack: Stack) -> None:
    phone = new_phone()
    for _ in range(POLICY.otp_per_destination.count):
        async with stack.http() as http:  # from different IPs: only the destination limit applies
            assert (
                await http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": phone})
            ).status_code == 202
    async with stack.http() as http:
        limited = await http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": f"+86{phone}"})
    assert limited.status_code == 429, limited.text
    assert 0 < int(limited.headers["Retry-After"]) <= 3600


async def test_codes_are_limited_per_ip_with_retry_after(stack: Stack) -> None:
    async with stack.http() as http:
        for _ in range(POLICY.otp_per_ip.count):
            response = await http.post(
                "/api/v1/auth/otp", json={"channel": "sms", "destination": new_phone()}
            )
            assert response.status_code == 202
        limited = await http.post("/api/v1/auth/otp", json={"channel": "sms", "destination": new_phone()})
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 3600


async def test_repeated_failures_lock_the_identifier_whether_or_not_it_exists(stack: Stack) -> None:
    async with stack.http() as http:
        phone, _ = await register_by_phone(http, password=PASSWORD)
        unknown = new_phone()
        for identifier in (phone, unknown):
            for _ in range(POLICY.failures_per_identifier.count):
                assert (await password_login(http, identifier, "Wrong-Passw0rd!")).status_code == 401
        # Now even the right password is refused until the window passes, and the unknown number
        # looks exactly the same.
        locked = await password_login(http, phone, PASSWORD)
        locked_unknown = await password_login(http, unknown, PASSWORD)
        for response in (locked, locked_unknown):
            assert response.status_code == 429
            assert 0 < int(response.headers["Retry-After"]) <= 15 * 60
        # Other identifiers are not affected.
        assert (await password_login(http, demo_email("member"), DEMO_PASSWORD)).status_code == 200


async def test_failures_across_identifiers_from_one_ip_are_limited(stack: Stack) -> None:
    """Credential stuffing: many identifiers, one wrong password each, from one address."""
    async with stack.http() as http:
        for _ in range(POLICY.failures_per_ip.count):
            assert (await password_login(http, new_phone(), "Wrong-Passw0rd!")).status_code == 401
        limited = await password_login(http, demo_email("member"), DEMO_PASSWORD)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    async with stack.http() as elsewhere:
        assert (await password_login(elsewhere, demo_email("member"), DEMO_PASSWORD)).status_code == 200


async def test_a_code_dies_after_too_many_wrong_guesses(stack: Stack) -> None:
    async with stack.http() as http:
        phone, _ = await register_by_phone(http)
    async with stack.http() as http:
        code = await send_code(http, "sms", phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(domain.OTP_MAX_ATTEMPTS):
            guess = await http.post(
                "/api/v1/auth/login", json={"method": "otp", "identifier": phone, "secret": wrong}
            )
            assert guess.status_code == 401
            # Lift the identifier's lockout (tested elsewhere): the per-code limit is what is tested here.
            async with stack.identity_db.transaction() as session:
                await session.execute(text("DELETE FROM rate_hits WHERE bucket = 'login_failure'"))
        right = await http.post(
            "/api/v1/auth/login", json={"method": "otp", "identifier": phone, "secret": code}
        )
        assert right.status_code == 401


# --- sessions -------------------------------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_family(stack: Stack) -> None:
    async with stack.http() as http:
        first = (await password_login(http, demo_email("member"), DEMO_PASSWORD)).json()
        second = await http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert second.status_code == 200, second.text
        rotated = second.json()
        assert rotated["refresh_token"] != first["refresh_token"]
        assert (await http.get("/api/v1/me", headers=bearer(rotated))).status_code == 200

        # The spent token is presented again: refused, and the whole family with it.
        reuse = await http.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401
        family = await http.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert family.status_code == 401
        # Another login (another family) is untouched.
        other = (await password_login(http, demo_email("member"), DEMO_PASSWORD)).json()
        assert (
            await http.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
        ).status_code == 200
        assert (await http.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})).status_code == 401


async def test_logout_revokes_the_refresh_token(stack: Stack) -> None:
    async with stack.http() as http:
        session = (await password_login(http, demo_email("member"), DEMO_PASSWORD)).json()
        assert (await http.post("/api/v1/auth/logout", json={})).status_code == 401
        out = await http.post(
            "/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]}, headers=bearer(session)
        )
        assert out.status_code == 204
        again = await http.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert again.status_code == 401


async def test_logout_and_a_role_change_stop_the_access_tokens_they_name_at_once(stack: Stack) -> None:
    """Issue 17, item 7 (R-ACC-2): an access token does not outlive the session logged out or the roles it
    carries — logging one session out refuses that session's access token and no other; logging out
    everywhere refuses them all; a role change refuses the member's tokens until they refresh."""
    async with stack.http() as http:
        password = "Corr3ct-Horse-Battery"
        _, first = await register_by_phone(http, password=password)
        phone = first["user"]["phone"]
        second = (await password_login(http, phone, password)).json()
        assert (await http.get("/api/v1/me", headers=bearer(first))).status_code == 200
        assert (await http.get("/api/v1/me", headers=bearer(second))).status_code == 200
        out = await http.post(
            "/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]}, headers=bearer(first)
        )
        assert out.status_code == 204
        assert (await http.get("/api/v1/me", headers=bearer(first))).status_code == 401
        assert (await http.get("/api/v1/me", headers=bearer(second))).status_code == 200
        assert (await http.post("/api/v1/auth/logout", json={}, headers=bearer(second))).status_code == 204
        assert (await http.get("/api/v1/me", headers=bearer(second))).status_code == 401

        _, admin = await register_by_phone(http, enterprise_name="戊公司")
        invited = new_phone()
        invitation = await http.post(
            "/api/v1/enterprise/members", json={"phone": invited}, headers=bearer(admin)
        )
        assert invitation.status_code == 202
        code = await send_code(http, "sms", invited)
        joined = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": invited,
                "code": code,
                "display_name": "韩梅梅",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert joined.status_code == 201, joined.text
        member = joined.json()
        assert member["user"]["roles"] == ["client"]
        assert (await http.get("/api/v1/me", headers=bearer(member))).status_code == 200
        promoted = await http.put(
            f"/api/v1/enterprise/members/{member['user']['id']}/role",
            json={"role": "client_admin"},
            headers=bearer(admin),
        )
        assert promoted.status_code == 200
        assert (await http.get("/api/v1/me", headers=bearer(member))).status_code == 401  # carried "client"
        renewed = (
            await http.post("/api/v1/auth/refresh", json={"refresh_token": member["refresh_token"]})
        ).json()
        me = await http.get("/api/v1/me", headers=bearer(renewed))
        assert me.status_code == 200 and me.json()["roles"] == ["client_admin"]


# --- membership cards -----------------------------------------------------------------------------------


def identity_stores(stack: Stack) -> IdentityStores:
    return IdentityStores.build(
        stack.identity_db,
        Outbox("identity", stack.settings, IDENTITY_TABLES),
        stack.cipher,
        stack.data_keys,
        stack.settings,
    )


async def firm_admin_of(stack: Stack, http: httpx.AsyncClient, firm_id: str) -> dict[str, str]:
    """The Authorization header of a new firm_admin of `firm_id` (a second firm beside the demo one)."""
    accounts = identity_stores(stack).accounts
    email = f"admin.{secrets.token_hex(4)}@{firm_id}.example.com"
    await accounts.create_user(
        email=email,
        display_name="乙律所管理员",
        roles=["firm_admin"],
        password_hash=await accounts.hash_password(PASSWORD),
        firm_id=firm_id,
        privacy_policy_accepted=True,
    )
    login = await password_login(http, email, PASSWORD)
    assert login.status_code == 200, login.text
    return bearer(login.json())


def new_card_number() -> str:
    return f"LF{secrets.randbelow(10**10):010d}"


def card_login(number: str, pin: str) -> dict[str, str]:
    return {"method": "membership_card", "identifier": number, "secret": pin}


async def test_membership_cards_issue_link_login_and_revoke(stack: Stack) -> None:
    """R-ACC-2: an offline card number + the holder's own PIN reaches the same account as the phone."""
    async with stack.http() as http:
        firm_admin = bearer((await password_login(http, demo_email("firm_admin"), DEMO_PASSWORD)).json())
        _, holder = await register_by_phone(http, password=PASSWORD)
        number = new_card_number()

        issue = {"card_number": number, "pin": "2468"}
        assert (
            await http.post("/api/v1/membership-cards", json=issue, headers=bearer(holder))
        ).status_code == 403
        issued = await http.post("/api/v1/membership-cards", json=issue, headers=firm_admin)
        assert issued.status_code == 201, issued.text
        card = issued.json()
        assert card["last4"] == number[-4:] and card["status"] == "active"
        assert (card["user_id"], card["linked_at"], card["firm_id"]) == (None, None, DEMO_FIRM_ID)
        retry = await http.post("/api/v1/membership-cards", json=issue, headers=firm_admin)
        assert (retry.status_code, retry.json()["id"]) == (200, card["id"])
        clash = await http.post(
            "/api/v1/membership-cards", json={"card_number": number, "pin": "1357"}, headers=firm_admin
        )
        assert clash.status_code == 409 and problem_fields(clash) == ["card_number"]

        # Not linked yet: the card logs nobody in.
        assert (
            await http.post("/api/v1/auth/login", json=card_login(number.lower(), "2468"))
        ).status_code == 401

        unknown = await http.post(
            "/api/v1/me/membership-card",
            json={"card_number": "ZZ00000000", "pin": "2468"},
            headers=bearer(holder),
        )
        assert unknown.status_code == 422 and problem_fields(unknown) == ["card_number"]
        wrong_pin = await http.post(
            "/api/v1/me/membership-card", json={"card_number": number, "pin": "9999"}, headers=bearer(holder)
        )
        assert wrong_pin.status_code == 422 and problem_fields(wrong_pin) == ["pin"]
        same_pin = await http.post(
            "/api/v1/me/membership-card",
            json={"card_number": number, "pin": "2468", "new_pin": "2468"},
            headers=bearer(holder),
        )
        assert same_pin.status_code == 422 and problem_fields(same_pin) == ["new_pin"]
        linked = await http.post(
            "/api/v1/me/membership-card",
            json={"card_number": number, "pin": "2468", "new_pin": "97531"},
            headers=bearer(holder),
        )
        assert linked.status_code == 200, linked.text
        assert linked.json()["user_id"] == holder["user"]["id"] and linked.json()["new_pin"] is None

        by_card = await http.post("/api/v1/auth/login", json=card_login(number, "97531"))
        assert by_card.status_code == 200, by_card.text
        assert by_card.json()["user"]["id"] == holder["user"]["id"]
        me = (await http.get("/api/v1/me", headers=bearer(holder))).json()
        assert [c["id"] for c in me["login_methods"]["membership_cards"]] == [card["id"]]

        # Linked to one account only: the PIN it was handed over with opens nothing any more.
        _, someone_else = await register_by_phone(http)
        taken = await http.post(
            "/api/v1/me/membership-card",
            json={"card_number": number, "pin": "2468"},
            headers=bearer(someone_else),
        )
        assert taken.status_code == 422 and problem_fields(taken) == ["pin"]
        stolen = await http.post(
            "/api/v1/me/membership-card",
            json={"card_number": number, "pin": "97531"},
            headers=bearer(someone_else),
        )
        assert stolen.status_code == 409

        revoked = await http.post(f"/api/v1/membership-cards/{card['id']}/revoke", headers=firm_admin)
        assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
        assert revoked.json()["user_id"] is None  # the firm sees that and when it was linked, not to whom
        assert revoked.json()["linked_at"]
        assert (await http.post("/api/v1/auth/login", json=card_login(number, "97531"))).status_code == 401
        assert (
            await http.post("/api/v1/membership-cards/nope/revoke", headers=firm_admin)
        ).status_code == 404


async def test_a_firm_admin_cannot_bind_a_card_to_another_account(stack: Stack) -> None:
    """R-ACC-2, R-ACC-4, R-OPS-3 (issue 17 item 0): issuing a card names no account — over HTTP a
    `user_id` is 422 and nothing is issued, the gRPC request has no such field, and no role or internal
    caller issues or links on someone's behalf; the card logs the victim in neither before nor after."""
    victim_id = demo_user_id(demo_email("supervisor"))
    async with stack.http() as http:
        firm_admin = bearer((await password_login(http, demo_email("firm_admin"), DEMO_PASSWORD)).json())
        number = new_card_number()
        bind = await http.post(
            "/api/v1/membership-cards",
            json={"card_number": number, "pin": "2468", "user_id": victim_id},
            headers=firm_admin,
        )
        assert bind.status_code == 422 and problem_fields(bind) == ["user_id"], bind.text
        # Nothing was issued by the refused request: the number is still free.
        issued = await http.post(
            "/api/v1/membership-cards", json={"card_number": number, "pin": "2468"}, headers=firm_admin
        )
        assert issued.status_code == 201 and issued.json()["user_id"] is None
        assert (await http.post("/api/v1/auth/login", json=card_login(number, "2468"))).status_code == 401
        supervisor = (await password_login(http, demo_email("supervisor"), DEMO_PASSWORD)).json()
        assert (await http.get("/api/v1/me", headers=bearer(supervisor))).json()["login_methods"][
            "membership_cards"
        ] == []

    # Over gRPC: the field is gone from the contract, and only a firm_admin token issues.
    assert "user_id" not in identity_pb.IssueMembershipCardRequest.DESCRIPTOR.fields_by_name
    with pytest.raises(ValueError):
        identity_pb.IssueMembershipCardRequest(card_number=number, pin="2468", user_id=victim_id)
    identity = stack.connections.clients.identity
    request = identity_pb.IssueMembershipCardRequest(card_number=new_card_number(), pin="2468")
    # Without a token the policy refuses the gateway before any servicer runs (docs/security.md); with a
    # supervisor's, the servicer refuses the role.
    for token, refused in (
        ("", grpc.StatusCode.UNAUTHENTICATED),
        (supervisor["access_token"], grpc.StatusCode.PERMISSION_DENIED),
    ):
        reset = access_token_var.set(token)
        try:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await identity.IssueMembershipCard(request)
            assert caught.value.code() == refused
        finally:
            access_token_var.reset(reset)
    # Linking is for the signed-in holder only: a call without a user's token links nothing.
    reset = access_token_var.set("")
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await identity.LinkMembershipCard(
                identity_pb.LinkMembershipCardRequest(card_number=number, pin="2468")
            )
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        access_token_var.reset(reset)


async def test_a_card_login_never_yields_anyone_but_its_holder(stack: Stack) -> None:
    """R-ACC-2, R-OPS-3: the issuing firm knows the PIN it handed over, so once the holder links the card
    that PIN stops working; the card logs in with the PIN only the holder was shown."""
    async with stack.http() as http:
        firm_admin = bearer((await password_login(http, demo_email("firm_admin"), DEMO_PASSWORD)).json())
        _, holder = await register_by_phone(http)
        number = new_card_number()
        issued = await http.post(
            "/api/v1/membership-cards", json={"card_number": number, "pin": "8642"}, headers=firm_admin
        )
        assert issued.status_code == 201, issued.text
        assert (await http.post("/api/v1/auth/login", json=card_login(number, "8642"))).status_code == 401

        linked = await http.post(
            "/api/v1/me/membership-card", json={"card_number": number, "pin": "8642"}, headers=bearer(holder)
        )
        assert linked.status_code == 200, linked.text
        new_pin = linked.json()["new_pin"]
        assert len(new_pin) == 6 and new_pin.isdigit() and new_pin != "8642"

        # Whoever knew the issued PIN (the firm's admin) gets nobody's tokens with it.
        assert (await http.post("/api/v1/auth/login", json=card_login(number, "8642"))).status_code == 401
        by_card = await http.post("/api/v1/auth/login", json=card_login(number, new_pin))
        assert by_card.status_code == 200, by_card.text
        assert by_card.json()["user"]["id"] == holder["user"]["id"]
        # The holder linking again with their own PIN changes nothing and shows no PIN.
        again = await http.post(
            "/api/v1/me/membership-card", json={"card_number": number, "pin": new_pin}, headers=bearer(holder)
        )
        assert again.status_code == 200 and again.json()["new_pin"] is None

    async with stack.identity_db.transaction() as session:
        actions = (
            (
                await session.execute(
                    text(
                        "SELECT action FROM audit_events WHERE detail->>'card_id' = :id ORDER BY created_at"
                    ),
                    {"id": issued.json()["id"]},
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["card.issued", "card.linked"]


async def test_a_firms_cards_are_listed_and_revoked_by_that_firm_only(stack: Stack) -> None:
    """R-ACC-4 for firms: firm B's admin neither sees nor revokes firm A's card (404, as unknown), nor
    re-issues its number; firm A lists its own, linked or not, without the holder's account."""
    async with stack.http() as http:
        firm_a = bearer((await password_login(http, demo_email("firm_admin"), DEMO_PASSWORD)).json())
        firm_b = await firm_admin_of(stack, http, f"firm-b-{secrets.token_hex(3)}")
        _, holder = await register_by_phone(http)
        number = new_card_number()
        card = (
            await http.post(
                "/api/v1/membership-cards", json={"card_number": number, "pin": "1357"}, headers=firm_a
            )
        ).json()
        own_b = await http.post(
            "/api/v1/membership-cards", json={"card_number": new_card_number(), "pin": "1357"}, headers=firm_b
        )
        assert own_b.status_code == 201, own_b.text

        b_cards = (await http.get("/api/v1/membership-cards", headers=firm_b)).json()["items"]
        assert [c["id"] for c in b_cards] == [own_b.json()["id"]]
        foreign_revoke = await http.post(f"/api/v1/membership-cards/{card['id']}/revoke", headers=firm_b)
        assert foreign_revoke.status_code == 404, foreign_revoke.text
        assert foreign_revoke.headers["content-type"].startswith("application/problem+json")
        reissue = await http.post(
            "/api/v1/membership-cards", json={"card_number": number, "pin": "1357"}, headers=firm_b
        )
        assert reissue.status_code == 409 and problem_fields(reissue) == ["card_number"]
        assert reissue.json()["detail"] and card["id"] not in reissue.text

        linked = await http.post(
            "/api/v1/me/membership-card",
            json={"card_number": number, "pin": "1357", "new_pin": "24680"},
            headers=bearer(holder),
        )
        assert linked.status_code == 200, linked.text
        a_cards = (await http.get("/api/v1/membership-cards", headers=firm_a, params={"limit": 100})).json()
        mine = next(c for c in a_cards["items"] if c["id"] == card["id"])
        assert mine["status"] == "active" and mine["linked_at"] and mine["user_id"] is None
        assert own_b.json()["id"] not in {c["id"] for c in a_cards["items"]}
        # Firm B's refused revoke changed nothing: the holder still logs in with the card.
        assert (await http.post("/api/v1/auth/login", json=card_login(number, "24680"))).status_code == 200


async def test_card_pin_guesses_are_limited_like_logins(stack: Stack) -> None:
    """R-ACC-2, R-OPS-3: wrong PINs when linking count against the card number like failed logins, so a
    card's PIN cannot be brute-forced by linking either; then even the right PIN is 429 with Retry-After."""
    async with stack.http() as http:
        firm_admin = bearer((await password_login(http, demo_email("firm_admin"), DEMO_PASSWORD)).json())
        _, guesser = await register_by_phone(http)
        number = new_card_number()
        issued = await http.post(
            "/api/v1/membership-cards", json={"card_number": number, "pin": "4826"}, headers=firm_admin
        )
        assert issued.status_code == 201
        for guess in range(POLICY.failures_per_identifier.count):
            wrong = await http.post(
                "/api/v1/me/membership-card",
                json={"card_number": number, "pin": f"{1000 + guess}"},
                headers=bearer(guesser),
            )
            assert wrong.status_code == 422 and problem_fields(wrong) == ["pin"]
        locked = await http.post(
            "/api/v1/me/membership-card", json={"card_number": number, "pin": "4826"}, headers=bearer(guesser)
        )
        assert locked.status_code == 429, locked.text
        assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
        assert (await http.post("/api/v1/auth/login", json=card_login(number, "4826"))).status_code == 429
    # From another address and account the card number is locked all the same.
    async with stack.http() as elsewhere:
        _, other = await register_by_phone(elsewhere)
        again = await elsewhere.post(
            "/api/v1/me/membership-card", json={"card_number": number, "pin": "4826"}, headers=bearer(other)
        )
        assert again.status_code == 429


# --- enterprises, isolation, export, audit -------------------------------------------------------------


async def test_client_admin_invites_a_member_who_joins_by_code(stack: Stack) -> None:
    """R-ACC-4: the invitee joins the inviting enterprise with the invited role."""
    async with stack.http() as http:
        _, admin = await register_by_phone(http, enterprise_name="韩梅梅律所客户")
        invitee = f"member.{secrets.token_hex(3)}@example.com"
        invited = await http.post(
            "/api/v1/enterprise/members", json={"email": invitee, "role": "client"}, headers=bearer(admin)
        )
        assert invited.status_code == 202, invited.text
        outbox = (await http.get("/api/v1/dev/outbox", params={"to": invitee})).json()["items"]
        assert "韩梅梅律所客户" in outbox[0]["body"]

        code = await send_code(http, "email", invitee)
        # Joining accepts the privacy policy in force, as registering does.
        joined = await http.post(
            "/api/v1/auth/login",
            json={
                "method": "otp",
                "identifier": invitee,
                "secret": code,
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert joined.status_code == 200, joined.text
        member = joined.json()["user"]
        assert member["tenant_id"] == admin["user"]["tenant_id"] and member["roles"] == ["client"]

        # A plain client may not invite; a bad role is 422.
        refused = await http.post(
            "/api/v1/enterprise/members", json={"email": "x@example.com"}, headers=bearer(joined.json())
        )
        assert refused.status_code == 403
        bad = await http.post(
            "/api/v1/enterprise/members",
            json={"email": "x@example.com", "role": "lawyer"},
            headers=bearer(admin),
        )
        assert bad.status_code == 422 and problem_fields(bad) == ["role"]


async def test_invitations_past_the_daily_limit_are_429_and_say_only_the_name_and_the_role(
    stack: Stack,
) -> None:
    """R-PRIV-2 (issue 17 item 0): an enterprise sends at most COUNSEL_INVITATIONS_PER_ENTERPRISE_PER_DAY
    invitations a day — those to existing accounts count too, as the answer never tells them apart — then
    429 problem+json with Retry-After and no message; another enterprise is not affected. The message is
    the fixed text around the enterprise's registered name and the role: the inviter adds nothing."""
    async with stack.http() as http:
        _, admin = await register_by_phone(http, enterprise_name="限额测试科技有限公司")
        invitees = [f"quota.{secrets.token_hex(3)}@example.com" for _ in range(INVITATIONS_PER_DAY)]
        invitees[1] = demo_email("member")  # has an account: counted, answered alike, not messaged
        for invitee in invitees:
            invited = await http.post(
                "/api/v1/enterprise/members", json={"email": invitee, "role": "client"}, headers=bearer(admin)
            )
            assert (invited.status_code, invited.json()) == (202, {"status": "invited", "role": "client"})
        sent = (await http.get("/api/v1/dev/outbox", params={"to": invitees[0]})).json()["items"]
        expected = domain.invitation_message("限额测试科技有限公司", "client")
        assert [(m["subject"], m["body"]) for m in sent] == [(expected.subject, expected.body)]

        with_text = await http.post(
            "/api/v1/enterprise/members",
            json={"email": "x@example.com", "role": "client", "message": "点击 evil.example 领奖"},
            headers=bearer(admin),
        )
        assert with_text.status_code == 422 and problem_fields(with_text) == ["message"]

        one_too_many = f"quota.{secrets.token_hex(3)}@example.com"
        limited = await http.post(
            "/api/v1/enterprise/members",
            json={"email": one_too_many, "role": "client"},
            headers=bearer(admin),
        )
        assert limited.status_code == 429, limited.text
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert 0 < int(limited.headers["Retry-After"]) <= 24 * 3600
        assert (await http.get("/api/v1/dev/outbox", params={"to": one_too_many})).json()["items"] == []

        _, other_admin = await register_by_phone(http, enterprise_name="另一家科技有限公司")
        elsewhere = await http.post(
            "/api/v1/enterprise/members",
            json={"email": one_too_many, "role": "client"},
            headers=bearer(other_admin),
        )
        assert elsewhere.status_code == 202, elsewhere.text


async def test_an_invited_registrant_who_asks_for_another_enterprise_is_told_about_the_invitation(
    stack: Stack,
) -> None:
    """R-ACC-4, README "Invitations": the invitation wins unless the registrant asks for a different new
    enterprise, which is a 409 naming the pending invitation (nothing is created); without enterprise_name,
    or with the inviting enterprise's own name, they join the inviter with the invited role."""
    async with stack.http() as http:
        _, admin = await register_by_phone(http, enterprise_name="丙律所客户")
        invitees = [f"+86{new_phone()}" for _ in range(3)]
        for invitee in invitees:
            invited = await http.post(
                "/api/v1/enterprise/members", json={"phone": invitee, "role": "client"}, headers=bearer(admin)
            )
            assert invited.status_code == 202, invited.text

        first = invitees[0]
        code = await send_code(http, "sms", first)
        both = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": first,
                "code": code,
                "display_name": "赵",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
                "enterprise_name": "赵氏贸易",
            },
        )
        assert both.status_code == 409, both.text
        problem = both.json()
        assert problem["type"].endswith("/invitation_pending") and "丙律所客户" in problem["detail"]
        # Nothing was created: the same person then accepts the invitation with a new code.
        joined = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": first,
                "code": await send_code(http, "sms", first),
                "display_name": "赵",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert joined.status_code == 201, joined.text
        assert joined.json()["user"]["tenant_id"] == admin["user"]["tenant_id"]
        assert joined.json()["user"]["roles"] == ["client"]

        # Typing the inviting enterprise's own name is joining it, not founding a second one.
        second = invitees[1]
        same = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": second,
                "code": await send_code(http, "sms", second),
                "display_name": "钱",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
                "enterprise_name": " 丙律所客户 ",
            },
        )
        assert same.status_code == 201, same.text
        assert same.json()["user"]["tenant_id"] == admin["user"]["tenant_id"]
        assert same.json()["user"]["roles"] == ["client"]


async def test_users_of_another_tenant_are_not_found(stack: Stack) -> None:
    """R-ACC-4 inside the service: another enterprise's user is 404 over gRPC, whoever asks."""
    async with stack.http() as http:
        _, alice = await register_by_phone(http, enterprise_name="甲公司")
        _, bob = await register_by_phone(http, enterprise_name="乙公司")
    identity = stack.as_notification.clients.identity_internal
    token = access_token_var.set(alice["access_token"])
    try:
        mine = await identity.GetUser(identity_pb.GetUserRequest(user_id=alice["user"]["id"]))
        assert mine.user.id == alice["user"]["id"]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await identity.GetUser(identity_pb.GetUserRequest(user_id=bob["user"]["id"]))
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        access_token_var.reset(token)


async def identity_export(stack: Stack, registered: dict[str, Any]) -> dict[str, Any]:
    """Identity's part of the person's export (ExportMyData, as the gateway asks for it with their token;
    the gateway's join of all seven services is tested in tests/e2e/test_personal_data_export.py)."""
    reset = access_token_var.set(registered["access_token"])
    try:
        reply = await stack.connections.clients.identity.ExportMyData(identity_pb.ExportMyDataRequest())
    finally:
        access_token_var.reset(reset)
    export: dict[str, Any] = json.loads(reply.export_json)
    return export


async def test_export_holds_the_account_and_its_audit_trail_which_is_append_only(stack: Stack) -> None:
    """R-PRIV-1: export on request; logins, failures and exports in an append-only audit."""
    async with stack.http() as http:
        phone, registered = await register_by_phone(http, password=PASSWORD)
        assert (await password_login(http, phone, "Wrong-Passw0rd!")).status_code == 401
        export = await identity_export(stack, registered)
        assert export["user"]["phone"] == f"+86{phone}" and export["sessions"]
        second = await identity_export(stack, registered)
        actions = [event["action"] for event in second["audit"]]
        assert {"user.registered", "role.granted", "login.succeeded", "data.exported"} <= set(actions)
        assert [a["detail"]["method"] for a in second["activity"] if a["kind"] == "login"] == ["register"]
        assert (await http.get("/api/v1/me/export")).status_code == 401

    async with stack.identity_db.transaction() as session:
        rows = (
            await session.execute(text("SELECT action, detail::text FROM audit_events ORDER BY created_at"))
        ).all()
    assert any(action == "login.failed" for action, _ in rows)
    # No phone number, code or e-mail in the audit details.
    assert all(phone not in detail and "@" not in detail for _, detail in rows)
    for statement in (
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with stack.identity_db.transaction() as session:
                await session.execute(text(statement))


# --- forged tokens --------------------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_forged_tokens_are_401(stack: Stack) -> None:
    """alg none, wrong audience, wrong issuer, expired and tampered tokens, signed with the real key."""
    keys = identity_stores(stack).keys
    async with stack.identity_db.transaction() as session:
        key = await keys.signing_key(session)
    async with stack.http() as http:
        good = (await password_login(http, demo_email("member"), DEMO_PASSWORD)).json()["access_token"]
        assert (await http.get("/api/v1/me", headers={"Authorization": f"Bearer {good}"})).status_code == 200
        claims = jwt.decode(good, options={"verify_signature": False})

        def signed(**changes: Any) -> str:
            return jwt.encode(
                {**claims, **changes}, key.private_key, algorithm="EdDSA", headers={"kid": key.kid}
            )

        header, payload, signature = good.split(".")
        forged = {
            "alg_none": f"{_b64({'alg': 'none', 'kid': key.kid})}.{payload}.",
            "wrong_audience": signed(aud="someone-else"),
            "wrong_issuer": signed(iss="https://evil.example"),
            "expired": signed(iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
            "tampered": f"{header}.{_b64({**claims, 'roles': ['supervisor']})}.{signature}",
        }
        for case, token in forged.items():
            response = await http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, case
        # The tokens identity issues are short-lived.
        assert claims["exp"] - claims["iat"] <= tokens.MAX_ACCESS_TOKEN_TTL_SECONDS


# --- OpenID Connect -------------------------------------------------------------------------------------


async def start_oidc(
    http: httpx.AsyncClient,
    headers: dict[str, str] | None = None,
    *,
    privacy_policy_version: str = PRIVACY_POLICY_VERSION,
) -> dict[str, str]:
    """Start a social login at the gateway (accepting the privacy policy version given) and follow the
    browser to the provider and back: the query of the provider's redirect to our callback (code and state)."""
    started = await http.get(
        "/api/v1/auth/oauth/demo/authorize",
        headers=headers or {},
        params={"privacy_policy_version": privacy_policy_version},
    )
    assert started.status_code == 302, started.text
    location = httpx.URL(started.headers["location"])
    assert location.params["code_challenge_method"] == "S256" and location.params["code_challenge"]
    assert location.params["state"] and location.params["nonce"]
    assert location.params["redirect_uri"] == OIDC_CALLBACK
    return await back_from_the_provider(location, OIDC_CALLBACK)


async def back_from_the_provider(location: httpx.URL, callback: str) -> dict[str, str]:
    """Follow the browser to the provider's page (which approves at once) and back: the query of its
    redirect to our callback, carrying the state we sent."""
    async with httpx.AsyncClient() as browser:
        at_provider = await browser.get(location)
    assert at_provider.status_code == 302, at_provider.text
    back = httpx.URL(at_provider.headers["location"])
    assert str(back).startswith(callback)
    assert back.params["state"] == location.params["state"]
    return dict(back.params)


async def test_social_login_creates_then_finds_the_account(stack: Stack) -> None:
    """R-ACC-1/R-ACC-2: an OpenID Connect account (code + PKCE, state, nonce) registers and logs in."""
    stack.provider.user = EndUser(
        sub=secrets.token_hex(8), email=f"social.{secrets.token_hex(3)}@example.com"
    )
    async with stack.http() as http:
        first = await http.get("/api/v1/auth/oauth/demo/callback", params=await start_oidc(http))
        assert first.status_code == 200, first.text
        user = first.json()["user"]
        assert user["roles"] == ["client"] and user["email"] == stack.provider.user.email
        second = await http.get("/api/v1/auth/oauth/demo/callback", params=await start_oidc(http))
        assert second.status_code == 200 and second.json()["user"]["id"] == user["id"]
        assert (await http.get("/api/v1/me", headers=bearer(second.json()))).status_code == 200


async def test_social_logins_ask_for_consent_as_a_password_login_does(stack: Stack) -> None:
    """Issue 20: an OpenID Connect or WeChat login whose person has not accepted the privacy policy in force
    — a new account included — is 409 consent_required naming privacy_policy_version, creating nothing,
    until a login started with that version, which records the acceptance (via register for a new account,
    login after a new version)."""
    stack.provider.user = EndUser(sub=secrets.token_hex(8), email=f"c.{secrets.token_hex(3)}@example.com")
    stack.wechat.user = wechat_user("小同")
    async with stack.http() as http:
        for callback, start in (
            ("/api/v1/auth/oauth/demo/callback", start_oidc),
            ("/api/v1/auth/oauth/wechat/callback", start_wechat),
        ):
            for version in ("", "1999-01-01"):
                refused = await http.get(callback, params=await start(http, privacy_policy_version=version))
                assert refused.status_code == 409, refused.text
                assert refused.json()["type"].endswith("/consent_required")
                assert problem_fields(refused) == ["privacy_policy_version"]
                assert PRIVACY_POLICY_VERSION in refused.json()["detail"]
            accepted = await http.get(callback, params=await start(http))
            assert accepted.status_code == 200, accepted.text
            export = await identity_export(stack, accepted.json())
            assert [(c["privacy_policy_version"], c["via"]) for c in export["consents"]] == [
                (PRIVACY_POLICY_VERSION, "register")
            ]
            again = await http.get(callback, params=await start(http, privacy_policy_version=""))
            assert again.status_code == 200 and again.json()["user"]["id"] == accepted.json()["user"]["id"]

    newer = stack.settings.model_copy(update={"privacy_policy_version": "2099-01-01"})
    oidc = IdentityStores.build(
        stack.identity_db, Outbox("identity", newer, IDENTITY_TABLES), stack.cipher, stack.data_keys, newer
    ).oidc
    user = stack.provider.user
    with pytest.raises(Conflict) as asked:
        await oidc.login("demo", user.sub, user.email, "")
    assert asked.value.reason == "consent_required"
    signed = await oidc.login("demo", user.sub, user.email, "", privacy_policy_version="2099-01-01")
    assert (await oidc.login("demo", user.sub, user.email, "")).user.row.id == signed.user.row.id
    async with stack.identity_db.transaction() as session:
        vias = (
            await session.execute(
                text(
                    "SELECT privacy_policy_version, via FROM consents WHERE user_id = :id ORDER BY accepted_at"
                ),
                {"id": signed.user.row.id},
            )
        ).all()
    assert [tuple(row) for row in vias] == [(PRIVACY_POLICY_VERSION, "register"), ("2099-01-01", "login")]


async def test_social_login_links_by_verified_email_only(stack: Stack) -> None:
    """R-ACC-2: one person, several login methods, one account; an unverified e-mail never links."""
    async with stack.http() as http:
        email = f"linked.{secrets.token_hex(3)}@example.com"
        code = await send_code(http, "email", email)
        registered = await http.post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "code": code,
                "display_name": "赵",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert registered.status_code == 201

        stack.provider.user = EndUser(sub=secrets.token_hex(8), email=email, email_verified=False)
        unverified = await http.get("/api/v1/auth/oauth/demo/callback", params=await start_oidc(http))
        assert unverified.status_code == 200
        assert unverified.json()["user"]["id"] != registered.json()["user"]["id"]

        stack.provider.user = EndUser(sub=secrets.token_hex(8), email=email, email_verified=True)
        verified = await http.get("/api/v1/auth/oauth/demo/callback", params=await start_oidc(http))
        assert verified.status_code == 200
        assert verified.json()["user"]["id"] == registered.json()["user"]["id"]


async def test_social_login_refuses_bad_state_pkce_and_nonce(stack: Stack) -> None:
    stack.provider.user = EndUser(sub=secrets.token_hex(8), email=f"s.{secrets.token_hex(3)}@example.com")
    async with stack.http() as http:
        callback = "/api/v1/auth/oauth/demo/callback"
        # State: unknown, missing, or spent (a replayed callback).
        params = await start_oidc(http)
        assert (await http.get(callback, params={**params, "state": "forged"})).status_code == 401
        assert (await http.get(callback, params={"code": params["code"]})).status_code == 401
        params = await start_oidc(http)
        assert (await http.get(callback, params=params)).status_code == 200
        assert (await http.get(callback, params=params)).status_code == 401

        # PKCE: a code obtained in one sign-in (an intercepted code) injected into another sign-in with
        # its own valid state is refused by the provider, because that sign-in's verifier does not match.
        victim = await start_oidc(http)
        attacker = await start_oidc(http)
        injected = await http.get(callback, params={"code": victim["code"], "state": attacker["state"]})
        assert injected.status_code == 401

        # Nonce: an ID token carrying another nonce than the one this sign-in sent.
        stack.provider.nonce_override = "replayed-nonce"
        try:
            assert (await http.get(callback, params=await start_oidc(http))).status_code == 401
        finally:
            stack.provider.nonce_override = None

        # The user refused at the provider; an unknown provider.
        denied = await start_oidc(http)
        assert (
            await http.get(callback, params={"state": denied["state"], "error": "access_denied"})
        ).status_code == 401
        assert (await http.get("/api/v1/auth/oauth/nowhere/authorize")).status_code == 404


# --- activity linkage and erasure -------------------------------------------------------------------------


async def test_logins_record_where_they_came_from(stack: Stack) -> None:
    """§6.1.1.2 (R-ACC-3): each login's place, resolved offline from its IP address — the local network for a
    private address, the allocated country for a public one — shown to the user beside the address."""
    async with stack.http() as http:
        phone, registered = await register_by_phone(http, password=PASSWORD)
    transport = httpx.ASGITransport(app=stack.app, client=("114.114.114.114", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as public:
        assert (await password_login(public, phone, PASSWORD)).status_code == 200
        page = (await public.get("/api/v1/me/activity", headers=bearer(registered))).json()
    logins = [item for item in page["items"] if item["kind"] == "login"]
    places = {login["detail"]["ip"]: login["detail"]["location"] for login in logins}
    assert places["114.114.114.114"] == "CN"
    assert [place for ip, place in places.items() if ip != "114.114.114.114"] == ["local network"]


async def test_activity_links_logins_and_other_services_events(stack: Stack) -> None:
    """R-ACC-3 (§6.1.1.2): what a client does elsewhere is linked to the account and shown to them only."""
    async with stack.http() as http:
        phone, registered = await register_by_phone(http, password=PASSWORD)
        user_id = registered["user"]["id"]
        assert (await password_login(http, phone, PASSWORD)).status_code == 200
        purchase = envelope(
            "order.paid", actor_id=user_id, aggregate_id=f"order-{secrets.token_hex(4)}", tenant_id="t"
        )
        bus = await EventBus.connect(stack.settings, name="test-activity")
        try:
            for event, suffix in (
                (purchase, "payment.order.paid"),
                (purchase, "payment.order.paid"),  # redelivered: recorded once
                (
                    envelope("product.published", actor_id="system", aggregate_id="p-1", tenant_id="t"),
                    "catalog.product.published",
                ),
                (
                    envelope(
                        "booking.completed", actor_id="someone-unknown", aggregate_id="b-1", tenant_id="t"
                    ),
                    "booking.booking.completed",
                ),
            ):
                await bus.publish(
                    stack.settings.subject(suffix), event.SerializeToString(), secrets.token_hex(8)
                )
        finally:
            await bus.close()

        deadline = time.monotonic() + 15
        while True:
            page = (await http.get("/api/v1/me/activity", headers=bearer(registered))).json()
            kinds = [item["kind"] for item in page["items"]]
            if "order.paid" in kinds or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert kinds.count("order.paid") == 1, kinds
        paid = next(item for item in page["items"] if item["kind"] == "order.paid")
        assert (paid["source"], paid["subject_id"]) == ("payment", purchase.aggregate_id)
        logins = [item for item in page["items"] if item["kind"] == "login"]
        assert sorted(item["detail"]["method"] for item in logins) == ["password", "register"]
        # Where each login came from (the client's address as the gateway saw it), stored encrypted.
        assert all(item["detail"]["ip"].startswith("10.0.") for item in logins)
        async with stack.identity_db.transaction() as session:
            stored = (
                (
                    await session.execute(
                        text("SELECT detail::text FROM activities WHERE user_id = :id"), {"id": user_id}
                    )
                )
                .scalars()
                .all()
            )
        assert stored and not any("10.0." in detail for detail in stored)
        assert "product.published" not in kinds
        # Newest first, paged.
        first = (
            await http.get("/api/v1/me/activity", params={"limit": 1}, headers=bearer(registered))
        ).json()
        assert len(first["items"]) == 1 and first["next_cursor"]

        _, someone_else = await register_by_phone(http)
        theirs = (await http.get("/api/v1/me/activity", headers=bearer(someone_else))).json()["items"]
        assert [item["kind"] for item in theirs] == ["login"]


async def test_erasure_removes_personal_data_and_tells_other_services(stack: Stack) -> None:
    """R-PRIV-1 (PIPL deletion on request), recorded in the audit and published as user.erased."""
    async with stack.http() as http:
        phone, registered = await register_by_phone(http, password=PASSWORD)
        erased = await http.delete("/api/v1/me", headers=bearer(registered))
        assert erased.status_code == 202, erased.text
        assert erased.json()["status"] == "erased"

        assert (await password_login(http, phone, PASSWORD)).status_code == 401
        refresh = await http.post("/api/v1/auth/refresh", json={"refresh_token": registered["refresh_token"]})
        assert refresh.status_code == 401
        # The erased account's access token is revoked with it (issue 17) and names nobody any more: every
        # call with it, a second erasure included, is 404 (issue 20), not the 401 of a lapsed sign-in.
        for method in ("GET", "DELETE"):
            gone = await http.request(method, "/api/v1/me", headers=bearer(registered))
            assert gone.status_code == 404, gone.text
            assert gone.headers["content-type"].startswith("application/problem+json")
            assert gone.json()["type"].endswith("/account_erased")
        async with stack.identity_db.transaction() as session:
            row = (
                await session.execute(
                    text(
                        "SELECT phone_enc, email_enc, password_hash, display_name FROM users WHERE id = :id"
                    ),
                    {"id": registered["user"]["id"]},
                )
            ).one()
        assert tuple(row) == ("", "", "", domain.ERASED_DISPLAY_NAME)
        # Identity itself finds nobody to erase a second time.
        principal = Principal(
            registered["user"]["id"], registered["user"]["tenant_id"], frozenset({"client"})
        )
        with pytest.raises(NotFound):
            await identity_stores(stack).privacy.erase(principal)

        # The number is free again: a new account, not the old one.
        code = await send_code(http, "sms", phone)
        again = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": phone,
                "code": code,
                "display_name": "新",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert again.status_code == 201 and again.json()["user"]["id"] != registered["user"]["id"]

    outbox = IDENTITY_TABLES.outbox
    async with stack.identity_db.transaction() as session:
        subjects = (await session.execute(select(outbox.c.subject, outbox.c.payload))).all()
        actions = (
            (
                await session.execute(
                    text("SELECT action FROM audit_events WHERE user_id = :id"),
                    {"id": registered["user"]["id"]},
                )
            )
            .scalars()
            .all()
        )
    erasures = [
        EventEnvelope.FromString(payload) for subject, payload in subjects if subject.endswith(".user.erased")
    ]
    assert [event.aggregate_id for event in erasures].count(registered["user"]["id"]) == 1
    assert "data.erased" in actions


async def test_client_admin_lists_and_promotes_members_of_their_own_enterprise_only(stack: Stack) -> None:
    """R-ACC-4: enterprise administration never reaches another tenant; role changes are audited."""
    async with stack.http() as http:
        _, admin = await register_by_phone(http, enterprise_name="丙公司")
        _, outsider = await register_by_phone(http, enterprise_name="丁公司")
        invitee = f"+86{new_phone()}"
        assert (
            await http.post("/api/v1/enterprise/members", json={"phone": invitee}, headers=bearer(admin))
        ).status_code == 202
        members = (await http.get("/api/v1/enterprise/members", headers=bearer(admin))).json()["items"]
        assert {m["phone"] for m in members} == {admin["user"]["phone"], invitee}
        member_id = next(m["id"] for m in members if m["phone"] == invitee)

        promoted = await http.put(
            f"/api/v1/enterprise/members/{member_id}/role",
            json={"role": "client_admin"},
            headers=bearer(admin),
        )
        assert promoted.status_code == 200 and promoted.json()["roles"] == ["client_admin"]
        # Another enterprise's administrator: the member does not exist for them.
        foreign = await http.put(
            f"/api/v1/enterprise/members/{member_id}/role", json={"role": "client"}, headers=bearer(outsider)
        )
        assert foreign.status_code == 404
        outsiders = (await http.get("/api/v1/enterprise/members", headers=bearer(outsider))).json()["items"]
        assert [m["id"] for m in outsiders] == [outsider["user"]["id"]]
        # An administrator cannot demote themself.
        self_demotion = await http.put(
            f"/api/v1/enterprise/members/{admin['user']['id']}/role",
            json={"role": "client"},
            headers=bearer(admin),
        )
        assert self_demotion.status_code == 409

    async with stack.identity_db.transaction() as session:
        changes = (
            (
                await session.execute(
                    text("SELECT detail FROM audit_events WHERE action = 'role.changed' AND user_id = :id"),
                    {"id": member_id},
                )
            )
            .scalars()
            .all()
        )
    assert changes == [{"previous": ["client"], "roles": ["client_admin"]}]


async def test_client_admin_removes_members_who_keep_their_own_account(stack: Stack) -> None:
    """R-ACC-4: a removed member leaves the enterprise and keeps their account as an individual client; a
    pending invitation is withdrawn; another enterprise's administrator gets 404 and an administrator cannot
    remove themself."""
    async with stack.http() as http:
        _, admin = await register_by_phone(http, enterprise_name="戊公司")
        _, outsider = await register_by_phone(http, enterprise_name="己公司")
        phone, pending = new_phone(), f"+86{new_phone()}"
        for invited in (f"+86{phone}", pending):
            invitation = await http.post(
                "/api/v1/enterprise/members", json={"phone": invited}, headers=bearer(admin)
            )
            assert invitation.status_code == 202
        joined = await http.post(
            "/api/v1/auth/register",
            json={
                "phone": phone,
                "code": await send_code(http, "sms", phone),
                "display_name": "韩梅梅",
                "privacy_policy_version": PRIVACY_POLICY_VERSION,
            },
        )
        assert joined.status_code == 201 and joined.json()["user"]["tenant_id"] == admin["user"]["tenant_id"]
        member = joined.json()
        members = (await http.get("/api/v1/enterprise/members", headers=bearer(admin))).json()["items"]
        pending_id = next(m["id"] for m in members if m["phone"] == pending)

        foreign = await http.delete(
            f"/api/v1/enterprise/members/{member['user']['id']}", headers=bearer(outsider)
        )
        assert foreign.status_code == 404
        itself = await http.delete(f"/api/v1/enterprise/members/{admin['user']['id']}", headers=bearer(admin))
        assert itself.status_code == 409
        for user_id in (member["user"]["id"], pending_id):
            removed = await http.delete(f"/api/v1/enterprise/members/{user_id}", headers=bearer(admin))
            assert removed.status_code == 204, removed.text
        remaining = (await http.get("/api/v1/enterprise/members", headers=bearer(admin))).json()["items"]
        assert [m["id"] for m in remaining] == [admin["user"]["id"]]
        again = await http.delete(f"/api/v1/enterprise/members/{pending_id}", headers=bearer(admin))
        assert again.status_code == 404

        # The person signs in again as an individual client of their own, outside the enterprise.
        refreshed = await http.post("/api/v1/auth/refresh", json={"refresh_token": member["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        alone = refreshed.json()["user"]
        assert alone["roles"] == ["client"] and alone["tenant_id"] not in ("", admin["user"]["tenant_id"])
        me = (await http.get("/api/v1/me", headers=bearer(refreshed.json()))).json()
        assert me["enterprise"]["name"] == "韩梅梅"

    async with stack.identity_db.transaction() as session:
        removals = (
            await session.execute(text("SELECT count(*) FROM audit_events WHERE action = 'member.removed'"))
        ).scalar_one()
    assert removals >= 2


async def test_one_person_links_phone_email_and_password_to_one_account(stack: Stack) -> None:
    """R-ACC-2: a phone account links an e-mail (proven by its code) and a password; each logs in."""
    async with stack.http() as http:
        phone, account = await register_by_phone(http)
        email = f"both.{secrets.token_hex(3)}@example.com"
        code = await send_code(http, "email", email)
        wrong = await http.patch(
            "/api/v1/me", json={"email": email, "code": "000000"}, headers=bearer(account)
        )
        assert wrong.status_code == 422 and problem_fields(wrong) == ["code"]
        linked = await http.patch(
            "/api/v1/me", json={"email": email, "code": code, "password": PASSWORD}, headers=bearer(account)
        )
        assert linked.status_code == 200, linked.text
        methods = linked.json()["login_methods"]
        assert (methods["email"], methods["phone"], methods["password"]) == (email, f"+86{phone}", True)

        for identifier in (email, phone):
            login = await password_login(http, identifier, PASSWORD)
            assert login.status_code == 200 and login.json()["user"]["id"] == account["user"]["id"]
        # Changing a set password needs the current one.
        no_current = await http.patch(
            "/api/v1/me", json={"password": "An0ther-Strong!"}, headers=bearer(account)
        )
        assert no_current.status_code == 422 and problem_fields(no_current) == ["current_password"]

        # An address that belongs to someone else cannot be linked.
        taken = demo_email("member")
        code = await send_code(http, "email", taken)
        clash = await http.patch("/api/v1/me", json={"email": taken, "code": code}, headers=bearer(account))
        assert clash.status_code == 409 and problem_fields(clash) == ["email"]


async def test_expired_codes_limits_and_sign_ins_are_purged(stack: Stack) -> None:
    retention = identity_stores(stack).retention
    async with stack.identity_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO rate_hits (id, bucket, key_index, created_at) VALUES "
                "('old-hit', 'otp_ip', 'k', now() - interval '2 days'), ('new-hit', 'otp_ip', 'k', now())"
            )
        )
        await session.execute(
            text(
                "INSERT INTO otp_codes (id, destination_index, channel, code_hash, attempts, expires_at, created_at) "
                "VALUES ('old-code', 'd', 'sms', 'h', 0, now() - interval '2 days', now() - interval '2 days')"
            )
        )
    assert await retention.purge_expired() >= 2
    async with stack.identity_db.transaction() as session:
        left = (
            (await session.execute(text("SELECT id FROM rate_hits WHERE id IN ('old-hit', 'new-hit')")))
            .scalars()
            .all()
        )
        codes = (await session.execute(text("SELECT count(*) FROM otp_codes WHERE id = 'old-code'"))).scalar()
    assert left == ["new-hit"] and codes == 0


async def test_a_signed_in_user_links_a_social_account_to_their_own_account(stack: Stack) -> None:
    """R-ACC-2: link a social account (whatever its e-mail) to the account one is signed in to; a social
    account already linked elsewhere cannot be taken over."""
    async with stack.http() as http:
        _, account = await register_by_phone(http)
        stack.provider.user = EndUser(
            sub=secrets.token_hex(8), email=f"other.{secrets.token_hex(3)}@example.com"
        )
        linked = await http.get(
            "/api/v1/auth/oauth/demo/callback", params=await start_oidc(http, bearer(account))
        )
        assert linked.status_code == 200, linked.text
        assert linked.json()["user"]["id"] == account["user"]["id"]
        # Now the social account alone signs in to the same account.
        again = await http.get("/api/v1/auth/oauth/demo/callback", params=await start_oidc(http))
        assert again.json()["user"]["id"] == account["user"]["id"]

        _, someone_else = await register_by_phone(http)
        takeover = await http.get(
            "/api/v1/auth/oauth/demo/callback", params=await start_oidc(http, bearer(someone_else))
        )
        assert takeover.status_code == 409


# --- WeChat (its own OAuth 2.0, not OpenID Connect) ------------------------------------------------------


async def start_wechat(
    http: httpx.AsyncClient,
    headers: dict[str, str] | None = None,
    *,
    privacy_policy_version: str = PRIVACY_POLICY_VERSION,
) -> dict[str, str]:
    """Start a WeChat login at the gateway (accepting the privacy policy version given) and follow the
    browser to WeChat's QR-code page and back (the user scans and approves): the query of WeChat's redirect
    to our callback (code and state)."""
    started = await http.get(
        "/api/v1/auth/oauth/wechat/authorize",
        headers=headers or {},
        params={"privacy_policy_version": privacy_policy_version},
    )
    assert started.status_code == 302, started.text
    location = httpx.URL(started.headers["location"])
    assert location.path == "/connect/qrconnect" and location.fragment == "wechat_redirect"
    assert location.params["appid"] == WECHAT_WEBSITE.app_id
    assert location.params["scope"] == "snsapi_login" and location.params["response_type"] == "code"
    assert location.params["redirect_uri"] == WECHAT_CALLBACK and location.params["state"]
    assert "nonce" not in location.params and "code_challenge" not in location.params
    return await back_from_the_provider(location, WECHAT_CALLBACK)


def wechat_user(nickname: str = "微信用户") -> WeChatUser:
    return WeChatUser(unionid="oU" + secrets.token_hex(13), nickname=nickname)


async def test_wechat_login_creates_then_finds_the_account(stack: Stack) -> None:
    """R-ACC-1: WeChat's website login (snsapi_login) registers a client and signs the same person in
    again; nothing about it is OpenID Connect (no nonce, no PKCE, no ID token)."""
    stack.wechat.user = wechat_user("小王")
    callback = "/api/v1/auth/oauth/wechat/callback"
    async with stack.http() as http:
        first = await http.get(callback, params=await start_wechat(http))
        assert first.status_code == 200, first.text
        user = first.json()["user"]
        assert user["roles"] == ["client"] and user["display_name"] == "小王"
        second = await http.get(callback, params=await start_wechat(http))
        assert second.status_code == 200 and second.json()["user"]["id"] == user["id"]
        assert (await http.get("/api/v1/me", headers=bearer(second.json()))).status_code == 200


async def test_wechat_accounts_are_the_unionid_across_the_firms_apps_not_one_apps_openid(
    stack: Stack,
) -> None:
    """The same person seen from the website app and from the mini program: two openids, one unionid,
    and the unionid is the account's WeChat identity."""
    person = wechat_user()
    website = WeChatLogin(
        WeChatApp(WECHAT_WEBSITE.app_id, WECHAT_WEBSITE.secret, api_url=stack.wechat.base_url)
    )
    mini_program = WeChatLogin(
        WeChatApp(WECHAT_MINI_PROGRAM.app_id, WECHAT_MINI_PROGRAM.secret, api_url=stack.wechat.base_url)
    )
    assert stack.wechat.openid(WECHAT_WEBSITE.app_id, person) != stack.wechat.openid(
        WECHAT_MINI_PROGRAM.app_id, person
    )
    from_website = await website.finish(stack.wechat.code_for(WECHAT_WEBSITE.app_id, person))
    from_mini_program = await mini_program.finish(stack.wechat.code_for(WECHAT_MINI_PROGRAM.app_id, person))
    assert from_website.subject == from_mini_program.subject == person.unionid
    # A code is only good for the app it was issued to (WeChat answers 40029 with HTTP 200).
    with pytest.raises(Unauthenticated):
        await website.finish(stack.wechat.code_for(WECHAT_MINI_PROGRAM.app_id, person))


async def test_wechat_login_refuses_forged_state_another_browser_and_replayed_codes(stack: Stack) -> None:
    stack.wechat.user = wechat_user()
    callback = "/api/v1/auth/oauth/wechat/callback"
    async with stack.http() as http:
        # State: forged, missing, or spent (the same callback twice).
        params = await start_wechat(http)
        assert (await http.get(callback, params={**params, "state": "forged"})).status_code == 401
        assert (await http.get(callback, params={"code": params["code"]})).status_code == 401
        assert (await http.get(callback, params=params)).status_code == 200
        assert (await http.get(callback, params=params)).status_code == 401
        # Even with the browser's cookie put back, identity refuses the spent state.
        http.cookies.set("counsel_oauth_state", params["state"], domain="gateway.test", path=callback)
        again = await http.get(callback, params=params)
        assert again.status_code == 401 and again.json()["type"].endswith("/oidc_state")

        # Login CSRF: an attacker's own sign-in (state and code) fed to a victim's browser is refused —
        # the state is bound to the browser that started it — and stays good for the attacker's browser.
        attackers = await start_wechat(http)
        async with stack.http() as victim:
            refused = await victim.get(callback, params=attackers)
        assert refused.status_code == 401
        assert refused.json()["type"].endswith("/oauth_state_not_this_browser")
        assert (await http.get(callback, params=attackers)).status_code == 200

        # Code replay: a spent code under a fresh, valid state is refused by WeChat (errcode 40163).
        spent = attackers["code"]
        fresh = await start_wechat(http)
        replayed = await http.get(callback, params={"code": spent, "state": fresh["state"]})
        assert replayed.status_code == 401 and replayed.json()["type"].endswith("/wechat_errcode_40163")
        # A code WeChat never issued (errcode 40029).
        forged = await http.get(callback, params={**await start_wechat(http), "code": "never-issued"})
        assert forged.status_code == 401 and forged.json()["type"].endswith("/wechat_errcode_40029")

        # The user refused on their phone: WeChat sends the state back without a code.
        stack.wechat.refuse = True
        try:
            assert (await http.get(callback, params=await start_wechat(http))).status_code == 401
        finally:
            stack.wechat.refuse = False


async def test_a_signed_in_user_links_wechat_to_their_own_account(stack: Stack) -> None:
    """R-ACC-2: a signed-in client links WeChat, then WeChat alone signs in to that account; a WeChat
    account linked elsewhere cannot be taken over."""
    stack.wechat.user = wechat_user()
    callback = "/api/v1/auth/oauth/wechat/callback"
    async with stack.http() as http:
        _, account = await register_by_phone(http)
        linked = await http.get(callback, params=await start_wechat(http, bearer(account)))
        assert linked.status_code == 200, linked.text
        assert linked.json()["user"]["id"] == account["user"]["id"]
        again = await http.get(callback, params=await start_wechat(http))
        assert again.json()["user"]["id"] == account["user"]["id"]

        _, someone_else = await register_by_phone(http)
        takeover = await http.get(callback, params=await start_wechat(http, bearer(someone_else)))
        assert takeover.status_code == 409


# --- firms' systems -------------------------------------------------------------------------------------


async def test_a_firms_system_authenticates_with_credentials_scoped_to_its_firm(stack: Stack) -> None:
    """Firms integrate over gRPC with service credentials of their own firm (issue #3, deliverable 8)."""
    async with stack.http() as http:
        firm_admin = bearer((await password_login(http, demo_email("firm_admin"), DEMO_PASSWORD)).json())
        created = await http.post(
            "/api/v1/firm/service-clients", json={"name": "案件管理系统"}, headers=firm_admin
        )
        assert created.status_code == 201, created.text
        client = created.json()
        assert client["firm_id"] == DEMO_FIRM_ID and client["client_secret"]

    identity = stack.connections.clients.identity
    request = identity_pb.IssueServiceTokenRequest(
        client_id=client["client_id"], client_secret=client["client_secret"]
    )
    reply = await identity.IssueServiceToken(request)
    assert 0 < reply.expires_in <= tokens.MAX_ACCESS_TOKEN_TTL_SECONDS
    principal = await token_verifier(stack.settings).verify(reply.access_token)
    assert (principal.user_id, principal.firm_id, principal.tenant_id) == (
        client["client_id"],
        DEMO_FIRM_ID,
        "",
    )
    assert principal.roles == {FIRM_SERVICE_ROLE}

    # The token authenticates on the gRPC API and sees no client's data: another tenant's user is 404 even
    # where a process may look users up at all (the notification service).
    token = access_token_var.set(reply.access_token)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stack.as_notification.clients.identity_internal.GetUser(
                identity_pb.GetUserRequest(user_id=demo_user_id(demo_email("client")))
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        access_token_var.reset(token)

    for wrong in (
        identity_pb.IssueServiceTokenRequest(client_id=client["client_id"], client_secret="not-the-secret"),
        identity_pb.IssueServiceTokenRequest(client_id="svc_unknown", client_secret=client["client_secret"]),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await identity.IssueServiceToken(wrong)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async with stack.http() as http:
        revoked = await http.post(
            f"/api/v1/firm/service-clients/{client['client_id']}/revoke", headers=firm_admin
        )
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await identity.IssueServiceToken(request)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_an_agent_sees_a_clients_activity_and_the_access_is_audited(stack: Stack) -> None:
    """R-CS-2 (§6.1.4.3): an agent serving a client sees their linked activity (without where they logged in
    from: the IP address and its place); clients and other staff cannot; every look is in the audit trail
    (R-PRIV-1)."""
    from services.runtime.context import access_token_var

    async with stack.http() as http:
        member = (await password_login(http, demo_email("member"), DEMO_PASSWORD)).json()
        agent = (await password_login(http, demo_email("agent"), DEMO_PASSWORD)).json()
        lawyer = (await password_login(http, demo_email("lawyer1"), DEMO_PASSWORD)).json()
    member_id = demo_user_id(demo_email("member"))
    identity = stack.connections.clients.identity
    request = identity_pb.ListUserActivityRequest(user_id=member_id)
    token = access_token_var.set(agent["access_token"])
    try:
        seen = await identity.ListUserActivity(request)
        missing = identity_pb.ListUserActivityRequest(user_id="nobody")
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await identity.ListUserActivity(missing)
        with pytest.raises(grpc.aio.AioRpcError) as no_user:
            await identity.ListUserActivity(identity_pb.ListUserActivityRequest())
    finally:
        access_token_var.reset(token)
    logins = [a for a in seen.activities if a.kind == "login"]
    # Where the client logged in from stays with them: neither opened nor sealed (ciphertext) for staff.
    assert logins and all(set(a.detail) == {"method"} for a in logins), [a.detail for a in logins]
    assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
    assert no_user.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for refused in (member, lawyer):
        token = access_token_var.set(refused["access_token"])
        try:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await identity.ListUserActivity(request)
        finally:
            access_token_var.reset(token)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    async with stack.identity_db.transaction() as session:
        audited = (
            (
                await session.execute(
                    text(
                        "SELECT actor_id FROM audit_events WHERE action = 'activity.viewed_by_staff' AND user_id = :id"
                    ),
                    {"id": member_id},
                )
            )
            .scalars()
            .all()
        )
    assert demo_user_id(demo_email("agent")) in audited


# --- groups and contact addresses for notifications (issue 9) ----------------------------------------------


async def test_users_by_role_lists_a_groups_members_with_addresses_for_services_only(stack: Stack) -> None:
    """Identity's ListUsersByRole: staff roles among staff, enterprise roles within their tenant, contact
    addresses decrypted; a user's token other than a supervisor's is refused, and no process but notification
    may ask at all."""
    with pytest.raises(grpc.aio.AioRpcError) as gateway_refused:
        await stack.connections.clients.identity_internal.ListUsersByRole(
            identity_pb.ListUsersByRoleRequest(role="agent")
        )
    assert gateway_refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    identity = stack.as_notification.clients.identity_internal
    agents = (await identity.ListUsersByRole(identity_pb.ListUsersByRoleRequest(role="agent"))).users
    assert [(u.id, u.email) for u in agents] == [(demo_user_id(demo_email("agent")), demo_email("agent"))]
    admins = await identity.ListUsersByRole(
        identity_pb.ListUsersByRoleRequest(role="client_admin", tenant_id=DEMO_ENTERPRISE_ID)
    )
    assert demo_user_id(demo_email("client")) in {u.id for u in admins.users}
    assert all(u.tenant_id == DEMO_ENTERPRISE_ID for u in admins.users)
    other = await identity.ListUsersByRole(
        identity_pb.ListUsersByRoleRequest(role="client_admin", tenant_id="another-tenant")
    )
    assert list(other.users) == []
    for request, code in (
        (identity_pb.ListUsersByRoleRequest(role="client_admin"), grpc.StatusCode.INVALID_ARGUMENT),
        (identity_pb.ListUsersByRoleRequest(role="wizard"), grpc.StatusCode.INVALID_ARGUMENT),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await identity.ListUsersByRole(request)
        assert refused.value.code() == code
    async with stack.http() as http:
        client = (await password_login(http, demo_email("member"), DEMO_PASSWORD)).json()
    token = access_token_var.set(client["access_token"])
    try:
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await identity.ListUsersByRole(identity_pb.ListUsersByRoleRequest(role="agent"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        access_token_var.reset(token)


STAFF_BREACH_TITLES = ("文书订单超时告警", "Document order deadline missed")


async def test_a_breach_reaches_the_agents_and_supervisors_found_in_identity_at_their_addresses(
    stack: Stack,
) -> None:
    """Issue 9: a document breach alerts the agent team and the supervisors (R-DOC-2): the notification
    service resolves the groups' members through identity, and e-mails them at the address identity holds,
    since they set none in their preferences. Real identity and notification services, NATS and PostgreSQL."""
    document_order_id = f"doc-{secrets.token_hex(4)}"
    breach = documents_events.DocOrderSlaBreached(
        document_order_id=document_order_id, kind="delivery", client_id=demo_user_id(demo_email("member"))
    )
    breach.new_due_at.GetCurrentTime()
    event = envelope("docorder.sla_breached", breach, tenant_id=DEMO_ENTERPRISE_ID)
    bus = await EventBus.connect(stack.settings, name="test-groups")
    try:
        for _ in range(2):  # redelivered: still one message each
            await bus.publish(
                stack.settings.subject("documents.docorder.sla_breached"), event.SerializeToString(), event.id
            )
    finally:
        await bus.close()

    async with stack.http() as http:
        for who in ("agent", "supervisor"):
            signed_in = (await password_login(http, demo_email(who), DEMO_PASSWORD)).json()
            deadline = time.monotonic() + 20
            while True:
                items = (await http.get("/api/v1/notifications", headers=bearer(signed_in))).json()["items"]
                mine = [n for n in items if n["subject_id"] == document_order_id]
                if mine or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert [n["kind"] for n in mine] == ["docorder.sla_breached.staff"], (who, items)
            # The e-mail goes to the address identity holds (the dispatcher runs every second).
            deadline = time.monotonic() + 20
            while True:
                outbox = (await http.get("/api/v1/dev/outbox", params={"to": demo_email(who)})).json()[
                    "items"
                ]
                mails = [m for m in outbox if m["channel"] == "email" and m["subject"] in STAFF_BREACH_TITLES]
                if mails or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            sent = (await http.get("/api/v1/notifications/deliveries", headers=bearer(signed_in))).json()
            assert len(mails) == 1, (who, outbox, sent)
