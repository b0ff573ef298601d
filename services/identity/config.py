"""Identity settings: the shared settings plus the access tokens' lifetime, the login providers (OpenID Connect
and WeChat), login locations and the invitation limit."""

from __future__ import annotations

from typing import Self

from pydantic import Field, SecretStr, model_validator

from services.identity.wechat import API_URL, AUTHORIZE_URL, WeChatApp
from services.runtime.config import Settings


class IdentitySettings(Settings):
    # Seconds an access token it issues lives; at most 15 minutes (a revoked one still works until then).
    access_token_ttl_seconds: int = Field(default=900, le=900)
    # Invitations a client enterprise may send per rolling 24 hours: each one is an SMS or e-mail to a person
    # who asked for nothing (R-PRIV-2), so a client_admin's account cannot become a spam cannon.
    invitations_per_enterprise_per_day: int = Field(default=50, ge=1)
    # Login locations: a MaxMind DB file (GeoLite2/GeoIP2 City layout) for country, province and city;
    # empty = countries only, from the registries' allocations bundled with the code.
    geoip_database: str = ""
    # OpenID Connect login providers, a JSON object: {"<name>": {"issuer": ..., "client_id": ...,
    # "client_secret": ..., "scope": "openid email profile"}}; endpoints come from the issuer's discovery
    # document unless given ("authorization_endpoint", "token_endpoint", "jwks_uri").
    oidc_providers: str = ""
    # WeChat website login (services/identity/wechat.py): the website application's AppID and AppSecret from
    # the WeChat Open Platform — another application than WeChat Pay's (payment's COUNSEL_WECHAT_APP_ID). Without
    # an app id there is no `wechat` provider (its routes are 404).
    wechat_login_app_id: str = ""
    wechat_login_app_secret: SecretStr = SecretStr("")
    # WeChat's own endpoints; another value only for a stand-in outside prod (the tests).
    wechat_login_authorize_url: str = AUTHORIZE_URL
    wechat_login_api_url: str = API_URL

    @model_validator(mode="after")
    def _refuse_a_half_configured_or_redirected_wechat_login(self) -> Self:
        if self.wechat_login_app_id and not self.wechat_login_app_secret.get_secret_value():
            raise ValueError("COUNSEL_WECHAT_LOGIN_APP_SECRET must be set with COUNSEL_WECHAT_LOGIN_APP_ID")
        # In prod the app secret goes to WeChat and nowhere else.
        if self.env == "prod" and (self.wechat_login_authorize_url, self.wechat_login_api_url) != (
            AUTHORIZE_URL,
            API_URL,
        ):
            raise ValueError(
                "COUNSEL_WECHAT_LOGIN_AUTHORIZE_URL and COUNSEL_WECHAT_LOGIN_API_URL are WeChat's own in prod "
                "(COUNSEL_ENV is prod unless set)"
            )
        return self

    def wechat_app(self) -> WeChatApp | None:
        """The WeChat website application, or None when WeChat login is not configured."""
        if not self.wechat_login_app_id:
            return None
        return WeChatApp(
            self.wechat_login_app_id,
            self.wechat_login_app_secret.get_secret_value(),
            self.wechat_login_authorize_url,
            self.wechat_login_api_url,
        )
