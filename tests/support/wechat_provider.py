"""A stand-in for WeChat's website login, following WeChat's published API (网站应用微信登录): the QR-code
page /connect/qrconnect (`snsapi_login`), /sns/oauth2/access_token (code → access token, openid, unionid)
and /sns/userinfo, served over HTTP by uvicorn on a loopback port.

As WeChat does: every API answer is HTTP 200 with a JSON body labelled text/plain, an error being
`{"errcode": …, "errmsg": …}`; a code is good for one exchange (40163 after) and only for the app it was
issued to; each app sees its own `openid` of a user, and every app of the one Open Platform account the
same `unionid`; the login page refuses a redirect outside the app's registered callback domain, and a
user who refuses comes back with the state only.

The user who scans the QR code is set per test (`wechat.user = ...`); the page approves at once."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.support.oidc_provider import serving_on_loopback

CODE_SECONDS = 600
TOKEN_SECONDS = 7200


@dataclass
class WeChatUser:
    unionid: str
    nickname: str = "微信用户"


@dataclass(frozen=True)
class RegisteredApp:
    app_id: str
    secret: str
    callback_domain: str


@dataclass
class _Code:
    app_id: str
    user: WeChatUser
    expires_at: float
    used: bool = False


@dataclass
class WeChat:
    base_url: str
    apps: dict[str, RegisteredApp]
    user: WeChatUser | None = None
    refuse: bool = False  # the user taps "deny" on their phone
    codes: dict[str, _Code] = field(default_factory=dict)
    tokens: dict[str, tuple[str, WeChatUser, float]] = field(default_factory=dict)

    def openid(self, app_id: str, user: WeChatUser) -> str:
        """A user's openid in one app: stable, and different in every app."""
        return "o" + hashlib.sha256(f"{app_id}:{user.unionid}".encode()).hexdigest()[:27]

    def code_for(self, app_id: str, user: WeChatUser) -> str:
        """A code as the QR-code page would issue it (for tests that need one outside a browser flow)."""
        code = secrets.token_hex(16)
        self.codes[code] = _Code(app_id, user, time.time() + CODE_SECONDS)
        return code

    def app(self) -> Starlette:
        async def qrconnect(request: Request) -> Response:
            q = request.query_params
            app = self.apps.get(q.get("appid", ""))
            redirect_uri = q.get("redirect_uri", "")
            # WeChat shows an error page (HTTP 200) instead of redirecting when the request is wrong.
            if app is None:
                return Response("AppID参数错误", media_type="text/html")
            if urlsplit(redirect_uri).hostname != app.callback_domain:
                return Response("redirect_uri参数错误", media_type="text/html")
            if q.get("scope") != "snsapi_login" or q.get("response_type") != "code":
                return Response("Scope参数错误或没有Scope权限", media_type="text/html")
            back: dict[str, str] = {"state": q.get("state", "")}
            if not self.refuse:
                assert self.user is not None, "set wechat.user to the person who scans the QR code"
                back = {"code": self.code_for(app.app_id, self.user), **back}
            separator = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{separator}{urlencode(back)}", status_code=302)

        async def access_token(request: Request) -> Response:
            q = request.query_params
            app = self.apps.get(q.get("appid", ""))
            if app is None:
                return _answer(errcode=40013, errmsg="invalid appid")
            if q.get("secret") != app.secret:
                return _answer(errcode=40125, errmsg="invalid appsecret")
            if q.get("grant_type") != "authorization_code":
                return _answer(errcode=40002, errmsg="invalid grant_type")
            code = self.codes.get(q.get("code", ""))
            if code is None or code.app_id != app.app_id or code.expires_at < time.time():
                return _answer(errcode=40029, errmsg="invalid code")
            if code.used:
                return _answer(errcode=40163, errmsg="code been used")
            code.used = True
            token = secrets.token_urlsafe(32)
            self.tokens[token] = (app.app_id, code.user, time.time() + TOKEN_SECONDS)
            return _answer(
                access_token=token,
                expires_in=TOKEN_SECONDS,
                refresh_token=secrets.token_urlsafe(32),
                openid=self.openid(app.app_id, code.user),
                scope="snsapi_login",
                unionid=code.user.unionid,
            )

        async def userinfo(request: Request) -> Response:
            q = request.query_params
            issued = self.tokens.get(q.get("access_token", ""))
            if issued is None:
                return _answer(
                    errcode=40001, errmsg="invalid credential, access_token is invalid or not latest"
                )
            app_id, user, expires_at = issued
            if expires_at < time.time():
                return _answer(errcode=42001, errmsg="access_token expired")
            if q.get("openid") != self.openid(app_id, user):
                return _answer(errcode=40003, errmsg="invalid openid")
            return _answer(
                openid=self.openid(app_id, user),
                nickname=user.nickname,
                sex=0,
                province="",
                city="",
                country="CN",
                headimgurl="",
                privilege=[],
                unionid=user.unionid,
            )

        return Starlette(
            routes=[
                Route("/connect/qrconnect", qrconnect),
                Route("/sns/oauth2/access_token", access_token),
                Route("/sns/userinfo", userinfo),
            ]
        )


def _answer(**body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), media_type="text/plain")


@contextlib.asynccontextmanager
async def running_wechat(port: int, *apps: RegisteredApp) -> AsyncIterator[WeChat]:
    wechat = WeChat(f"http://127.0.0.1:{port}", {app.app_id: app for app in apps})
    async with serving_on_loopback(wechat.app(), port):
        yield wechat
