"""The portal's session: the user's tokens and CSRF secret, encrypted and authenticated (Fernet, a key derived
from COUNSEL_SECRET_KEY) in an HttpOnly, SameSite=Lax cookie. Page scripts never see a token; the portal
alone reads the cookie and calls the gateway with the access token, refreshing it when it runs out."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE_NAME = "counsel_session"
# A visitor's session (and its CSRF secret) lasts this long without a visit; a login ends sooner when its
# refresh token does (the gateway refuses it and the portal asks to log in again).
MAX_AGE_SECONDS = 14 * 24 * 3600
# An access token this close to expiry is refreshed before a call rather than refused during it.
REFRESH_MARGIN_SECONDS = 30


@dataclass
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    access_token: str = ""
    refresh_token: str = ""
    access_expires_at: float = 0.0
    user_id: str = ""
    display_name: str = ""
    roles: list[str] = field(default_factory=list)
    # A lawyer's catalog profile (GET /api/v1/me's lawyer_id, which never changes; "" not known yet) and their
    # standing as the workbench shows it, with when it was read (pages/staff.py reads it again when it is old).
    lawyer_id: str = ""
    standing: dict[str, Any] | None = None
    standing_read_at: float = 0.0
    # Set when anything changed, so the cookie is written again (never serialised).
    changed: bool = field(default=False, compare=False, repr=False)

    @property
    def signed_in(self) -> bool:
        return bool(self.access_token)

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def needs_refresh(self) -> bool:
        return bool(self.refresh_token) and time.time() > self.access_expires_at - REFRESH_MARGIN_SECONDS

    def sign_in(self, login: dict[str, Any]) -> None:
        """Keeps the tokens of a gateway login (register, login or refresh answer) and a fresh CSRF secret."""
        user = login["user"]
        if user["id"] != self.user_id:
            self.lawyer_id, self.standing, self.standing_read_at = "", None, 0.0
        self.access_token = login["access_token"]
        self.refresh_token = login["refresh_token"]
        self.access_expires_at = time.time() + int(login["expires_in"])
        self.user_id = user["id"]
        self.display_name = user["display_name"]
        self.roles = list(user["roles"])
        self.csrf = secrets.token_urlsafe(24)
        self.changed = True

    def keep_standing(self, lawyer_id: str, standing: dict[str, Any]) -> None:
        self.lawyer_id = lawyer_id
        self.standing = standing
        self.standing_read_at = time.time()
        self.changed = True

    def sign_out(self) -> None:
        fresh = Session()
        for name, value in asdict(fresh).items():
            setattr(self, name, value)
        self.changed = True


class SessionCodec:
    """Turns a session into a cookie value and back; a cookie that was altered, is older than
    MAX_AGE_SECONDS or was made with another key reads as a new, empty session."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"counsel portal session").derive(
            secret_key.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def dumps(self, session: Session) -> str:
        data = {k: v for k, v in asdict(session).items() if k != "changed"}
        return self._fernet.encrypt(json.dumps(data, separators=(",", ":")).encode()).decode()

    def loads(self, cookie: str | None) -> Session:
        if not cookie:
            return Session(changed=True)
        try:
            data = json.loads(self._fernet.decrypt(cookie.encode(), ttl=MAX_AGE_SECONDS))
            return Session(**data)
        except (InvalidToken, ValueError, TypeError):
            return Session(changed=True)
