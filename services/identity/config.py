"""Identity settings: the shared settings plus the access tokens' lifetime, the login providers, login locations
and the invitation limit."""

from __future__ import annotations

from pydantic import Field

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
