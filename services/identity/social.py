"""The social login providers by name: WeChat's own OAuth 2.0 (`wechat`, when configured) and the OpenID
Connect providers of COUNSEL_OIDC_PROVIDERS. The sign-in states and account links are the same for both
(store/oidc.py); only the conversation with the provider differs."""

from __future__ import annotations

from services.identity.oidc import AuthorizationStart, OidcClients, VerifiedIdentity
from services.identity.wechat import WECHAT, WeChatLogin


class LoginProviders:
    def __init__(self, oidc: OidcClients, wechat: WeChatLogin | None = None) -> None:
        if wechat is not None and WECHAT in oidc.providers:
            raise ValueError(f"COUNSEL_OIDC_PROVIDERS must not name {WECHAT!r}: it is WeChat's own login")
        self.oidc = oidc
        self.wechat = wechat

    def _wechat(self, name: str) -> WeChatLogin | None:
        return self.wechat if name == WECHAT else None

    def provider(self, name: str) -> None:
        """NotFound for a provider that is not configured."""
        if self._wechat(name) is None:
            self.oidc.provider(name)

    async def start(self, name: str, redirect_uri: str) -> AuthorizationStart:
        wechat = self._wechat(name)
        return wechat.start(redirect_uri) if wechat else await self.oidc.start(name, redirect_uri)

    async def finish(
        self, name: str, redirect_uri: str, code: str, code_verifier: str, nonce: str
    ) -> VerifiedIdentity:
        """The verified social account; Unauthenticated when the provider refuses the code or its answer
        does not verify."""
        wechat = self._wechat(name)
        if wechat:
            return await wechat.finish(code)
        return await self.oidc.finish(name, redirect_uri, code, code_verifier, nonce)
