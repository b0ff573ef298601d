"""Portal settings: the shared settings plus where the portal listens and the gateway it calls."""

from __future__ import annotations

from services.runtime.config import Settings


class PortalSettings(Settings):
    # Where the portal listens, and the gateway it calls as any client would (empty = this machine's gateway,
    # http://127.0.0.1:<gateway_port>).
    portal_host: str = "127.0.0.1"
    portal_port: int = 8080
    portal_gateway_url: str = ""
