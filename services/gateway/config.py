"""Gateway settings: the shared settings plus the gateway's own — request limits, forwarded headers, the firm
endpoint and the Temporal UI's codec origin."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from services.runtime.config import Settings


class GatewaySettings(Settings):
    # The platform's own licences, shown on public pages and by GET /api/v1/platform (§4.1): the ICP filing
    # number and the business licence (its unified social credit code). Unset outside dev and test, where
    # they read as demo values (services/gateway/routes/onboarding.py).
    platform_name: str = "counsel"
    platform_icp_licence: str = ""
    platform_business_licence: str = ""
    # The STUN/TURN servers browsers use to connect an online call's media, as WebRTC's RTCIceServer list in
    # JSON: [{"urls": ["stun:turn.example.cn:3478"]}, {"urls": ["turn:turn.example.cn:3478?transport=udp"],
    # "username": "...", "credential": "..."}] (the chart's coturn). Sent to the call's two parties only,
    # in the signalling socket's `ready` frame. Empty: none (peers on one network connect directly).
    webrtc_ice_servers: str = ""
    # Proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For/-Proto the gateway believes; empty = none,
    # and the client address is the TCP peer's whatever the headers say (per-address limits, login audit).
    gateway_trusted_proxies: str = ""
    # Largest request body a route takes unless it names its own (document uploads: 20 MiB) → 413.
    gateway_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The general rate limit, per client address and per access token: requests a second, and the burst a
    # quiet caller may spend at once; a rate of 0 turns that limit off. Excess → 429 with Retry-After.
    gateway_rate_per_ip: float = Field(default=100.0, ge=0)
    gateway_burst_per_ip: int = Field(default=400, ge=1)
    gateway_rate_per_token: float = Field(default=50.0, ge=0)
    gateway_burst_per_token: int = Field(default=200, ge=1)
    # The firm endpoint (issue 17 item 4; docs/integrating.md): the gRPC port law firms' systems call, served
    # by the gateway process with TLS (the process's certificate unless a public one is named below). Firms
    # authenticate with service tokens, not certificates. 0 turns the endpoint off.
    firm_grpc_port: int = Field(default=8443, ge=0, le=65535)
    firm_tls_cert_file: str = ""
    firm_tls_key_file: str = ""
    # Calls a firm's system may make per second through the endpoint, and the burst it may spend at once.
    firm_rate_per_token: float = Field(default=20.0, ge=0)
    firm_burst_per_token: int = Field(default=100, ge=1)
    # The Temporal UI's origin (`https://temporal.example.cn`) allowed to call the gateway's codec endpoint
    # (/codec/encode, /codec/decode) from the browser; empty = no browser origin may.
    temporal_ui_origin: str = ""

    @field_validator("webrtc_ice_servers")
    @classmethod
    def _ice_servers_are_a_list_of_servers(cls, value: str) -> str:
        if value.strip():
            parse_ice_servers(value)
        return value

    def ice_servers(self) -> list[dict[str, Any]]:
        """COUNSEL_WEBRTC_ICE_SERVERS as RTCIceServer dictionaries."""
        return parse_ice_servers(self.webrtc_ice_servers) if self.webrtc_ice_servers.strip() else []


def parse_ice_servers(raw: str) -> list[dict[str, Any]]:
    """ValueError unless `raw` is a JSON list of objects each with `urls` (stun:/turn:/turns: URLs)."""
    servers = json.loads(raw)
    if not isinstance(servers, list) or not all(isinstance(s, dict) for s in servers):
        raise ValueError("COUNSEL_WEBRTC_ICE_SERVERS must be a JSON list of RTCIceServer objects")
    for server in servers:
        urls = server.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not urls or not all(
            isinstance(u, str) and u.split(":", 1)[0] in ("stun", "turn", "turns") for u in urls
        ):
            raise ValueError("COUNSEL_WEBRTC_ICE_SERVERS: every server needs stun:, turn: or turns: urls")
    return servers
