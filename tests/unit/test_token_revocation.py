"""Logout, a role change and erasure take effect before an access token expires (issue 17, item 7;
R-ACC-2): every verifier refuses a token identity revoked, cached or not, once it has polled."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import pytest

from services.runtime.auth import Revocation, Revocations, TokenVerifier
from services.runtime.errors import NotFound, Unauthenticated
from tests.support.tokens import Issuer


class Clock:
    """The verifier's clock (poll intervals, cache expiry). Tokens carry real times: PyJWT checks iat."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Identity:
    """Signs tokens and keeps a revocation list, as identity does."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.keys = Issuer()
        self.revocations: list[Revocation] = []
        self.polls = 0

    def token(self, user: str, session: str = "", issued_at: float | None = None) -> str:
        claims = {"sid": session} if session else {}
        return self.keys.token(
            user, tenant_id="", expires_in=900, issued_at=issued_at, jti=uuid.uuid4().hex, **claims
        )

    def revoke(self, user: str, session: str = "", at: float | None = None, *, erased: bool = False) -> None:
        when = at if at is not None else time.time()
        self.revocations.append(Revocation(len(self.revocations) + 1, user, session, when, erased))

    async def fetch_revocations(self, after_id: int) -> Sequence[Revocation]:
        self.polls += 1
        return [r for r in self.revocations if r.id > after_id]

    def verifier(self, poll_seconds: float = 2.0) -> TokenVerifier:
        revocations = Revocations(self.fetch_revocations, poll_seconds, clock=self.clock)
        return self.keys.verifier(clock=self.clock, revocations=revocations)


async def test_a_users_tokens_issued_before_a_revocation_are_refused_even_from_the_cache() -> None:
    clock = Clock()
    identity = Identity(clock)
    verifier = identity.verifier()
    old = identity.token("alice", issued_at=time.time() - 60)
    assert (await verifier.verify(old)).user_id == "alice"  # now cached
    identity.revoke("alice", at=time.time() - 30)  # e.g. her role changed
    assert (await verifier.verify(old)).user_id == "alice"  # not polled yet: within the poll interval
    clock.now += 2.0
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(old)
    fresh = identity.token("alice")  # issued after the revocation: her new roles
    assert (await verifier.verify(fresh)).user_id == "alice"
    assert (await verifier.verify(identity.token("bob", issued_at=time.time() - 60))).user_id == "bob"


async def test_a_token_of_an_erased_account_is_not_found_rather_than_refused() -> None:
    """Issue 20: a client told 404 knows the account is gone; 401 would send them to sign in again."""
    clock = Clock()
    identity = Identity(clock)
    verifier = identity.verifier(poll_seconds=0)
    erased = identity.token("alice", issued_at=time.time() - 60)
    logged_out = identity.token("bob", issued_at=time.time() - 60)
    identity.revoke("alice", at=time.time() - 30, erased=True)
    identity.revoke("bob", at=time.time() - 30)
    with pytest.raises(NotFound, match="erased"):
        await verifier.verify(erased)
    with pytest.raises(Unauthenticated, match="revoked"):
        await verifier.verify(logged_out)


async def test_logging_one_session_out_refuses_only_that_sessions_tokens() -> None:
    clock = Clock()
    identity = Identity(clock)
    verifier = identity.verifier(poll_seconds=0)
    phone = identity.token("alice", session="s-phone", issued_at=time.time() - 5)
    laptop = identity.token("alice", session="s-laptop", issued_at=time.time() - 5)
    identity.revoke("alice", session="s-phone")
    with pytest.raises(Unauthenticated):
        await verifier.verify(phone)
    assert (await verifier.verify(laptop)).user_id == "alice"


async def test_identity_is_asked_at_most_once_per_interval_and_a_failed_poll_keeps_what_is_known() -> None:
    clock = Clock()
    identity = Identity(clock)
    verifier = identity.verifier(poll_seconds=2.0)
    token = identity.token("alice", issued_at=time.time() - 10)
    for _ in range(50):
        await verifier.verify(token)
    assert identity.polls == 1
    identity.revoke("alice")
    clock.now += 2.0
    with pytest.raises(Unauthenticated):
        await verifier.verify(token)

    async def unreachable(after_id: int) -> Sequence[Revocation]:
        raise ConnectionError("identity is away")

    identity.fetch_revocations = unreachable  # type: ignore[method-assign]
    clock.now += 5.0
    with pytest.raises(Unauthenticated):  # still refused: what was learnt is kept
        await verifier.verify(token)


async def test_revocations_are_forgotten_once_every_token_they_name_has_expired() -> None:
    clock = Clock()
    identity = Identity(clock)
    verifier = identity.verifier(poll_seconds=0)
    identity.revoke("alice", at=clock.now)
    await verifier.verify(identity.token("bob"))
    assert verifier._revocations is not None and "alice" in verifier._revocations._users
    clock.now += 901
    await verifier.verify(identity.token("bob"))
    assert "alice" not in verifier._revocations._users
