"""WeChat website login (R-ACC-1): WeChat's own OAuth 2.0, which is not OpenID Connect — no ID token, no
discovery document, no PKCE. The browser goes to open.weixin.qq.com/connect/qrconnect (`snsapi_login`, the
user scans a QR code with the WeChat app) and comes back with a code and our state; the code, with the app
secret, buys an access token and the user's `openid` at sns/oauth2/access_token, and sns/userinfo gives the
nickname and the `unionid`.

An `openid` names the user within one WeChat app; the `unionid` names them across all the apps of one
WeChat Open Platform account (the website, a mini program, an official account), so it is what links the
account: the subject is the `unionid`, or `openid:<app id>:<openid>` for an app not bound to an Open
Platform account. WeChat answers errors with HTTP 200 and a body `{"errcode": …, "errmsg": …}`; a code
is good for one exchange (errcode 40163 after) and ten minutes. Our state is spent at the first callback
and, at the gateway, must match the cookie set in the browser that started the sign-in."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from services.identity.domain import MAX_DISPLAY_NAME
from services.identity.oidc import HTTP_TIMEOUT_SECONDS, SIGN_IN_FAILED, AuthorizationStart, VerifiedIdentity
from services.runtime.errors import InvalidArgument, Unauthenticated, Unavailable

WECHAT = "wechat"
AUTHORIZE_URL = "https://open.weixin.qq.com/connect/qrconnect"
API_URL = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class WeChatApp:
    """A website application registered on the WeChat Open Platform (COUNSEL_WECHAT_*)."""

    app_id: str
    app_secret: str
    authorize_url: str = AUTHORIZE_URL
    api_url: str = API_URL


class WeChatLogin:
    def __init__(self, app: WeChatApp) -> None:
        self.app = app

    def start(self, redirect_uri: str) -> AuthorizationStart:
        """A fresh state and the QR-code login page to send the browser to. WeChat has no nonce and no
        PKCE: the state (spent once, bound to the browser) is the sign-in's only anti-forgery token."""
        if not redirect_uri.startswith(("https://", "http://")):
            raise InvalidArgument.for_field("redirect_uri", "must be an absolute http(s) URL")
        state = secrets.token_urlsafe(32)
        query = urlencode(
            {
                "appid": self.app.app_id,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_login",
                "state": state,
            }
        )
        # The fragment is part of WeChat's documented URL: without it the page does not redirect.
        return AuthorizationStart(f"{self.app.authorize_url}?{query}#wechat_redirect", state, "", "")

    async def _call(self, http: httpx.AsyncClient, path: str, params: dict[str, str]) -> dict[str, Any]:
        """A WeChat API answer; Unauthenticated for its `{errcode, errmsg}` (HTTP 200 like every answer),
        Unavailable when it cannot be reached or answers something else."""
        try:
            response = await http.get(self.app.api_url.rstrip("/") + path, params=params)
            response.raise_for_status()
            # WeChat labels its JSON text/plain; read the body whatever the header says.
            data = json.loads(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise Unavailable("WeChat is not reachable; try again later") from exc
        if not isinstance(data, dict):
            raise Unavailable("WeChat answered something unexpected")
        if data.get("errcode"):
            # 40029 invalid code, 40163 code been used, 40125 invalid appsecret, 42001 token expired …
            raise Unauthenticated(SIGN_IN_FAILED, reason=f"wechat_errcode_{int(data['errcode'])}")
        return data

    async def finish(self, code: str) -> VerifiedIdentity:
        """Exchange the code for the user's openid (and unionid) and read their nickname. Unauthenticated
        when WeChat refuses the code (wrong, spent, expired or another app's)."""
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS) as http:
            token = await self._call(
                http,
                "/sns/oauth2/access_token",
                {
                    "appid": self.app.app_id,
                    "secret": self.app.app_secret,
                    "code": code,
                    "grant_type": "authorization_code",
                },
            )
            access_token, openid = str(token.get("access_token") or ""), str(token.get("openid") or "")
            if not access_token or not openid:
                raise Unauthenticated(SIGN_IN_FAILED, reason="wechat_no_openid")
            user = await self._call(
                http, "/sns/userinfo", {"access_token": access_token, "openid": openid, "lang": "zh_CN"}
            )
        if str(user.get("openid") or "") != openid:
            raise Unauthenticated(SIGN_IN_FAILED, reason="wechat_openid_mismatch")
        unionid = str(user.get("unionid") or token.get("unionid") or "")
        subject = unionid or f"openid:{self.app.app_id}:{openid}"
        nickname = str(user.get("nickname") or "").strip()[:MAX_DISPLAY_NAME]
        return VerifiedIdentity(subject, "", nickname or "微信用户")
