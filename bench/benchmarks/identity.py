"""13. Identity's own path (issue 20): password logins and `GET /api/v1/me` of the demo accounts, round
robin, so the person's e-mail and phone are opened (and a login's place sealed) with a different person's
data key from one request to the next. Logins are dominated by the argon2id check of the password; `/me`
is where a per-person key fetch would show."""

from __future__ import annotations

import contextlib
import itertools

from bench.harness import Context, Figure, login, ms
from bench.http import LoadClient
from bench.loadgen import closed_loop, open_loop
from services.identity.seed import DEMO_PASSWORD, DEMO_USERS

ME_CALLERS = 32
LOGIN_CALLERS = 4


async def bench_identity(ctx: Context) -> None:
    base_url = ctx.stack.base_url
    identifiers = [email for email, *_ in DEMO_USERS]
    tokens = [await login(base_url, identifier) for identifier in identifiers]
    async with contextlib.AsyncExitStack() as stack:
        people = [
            await stack.enter_async_context(LoadClient(base_url, {"authorization": f"Bearer {token}"}))
            for token in tokens
        ]
        anonymous = await stack.enter_async_context(LoadClient(base_url))
        callers = itertools.cycle(people)
        credentials = itertools.cycle(
            [
                {"method": "password", "identifier": identifier, "secret": DEMO_PASSWORD}
                for identifier in identifiers
            ]
        )

        async def me() -> None:
            await next(callers).get("/api/v1/me")

        async def password_login() -> None:
            await anonymous.post("/api/v1/auth/login", next(credentials))

        me_rate = await closed_loop(me, ME_CALLERS, ctx.scale(3, 10))
        me_at_half = await open_loop(me, max(10.0, me_rate * 0.5), ctx.scale(3, 10))
        login_rate = await closed_loop(password_login, LOGIN_CALLERS, ctx.scale(3, 10))
    ctx.add(
        Figure(
            "identity",
            f"GET /me of {len(tokens)} people round robin, {ME_CALLERS} callers back to back",
            me_rate,
            "req/s",
        ),
        Figure("identity", "GET /me p99 at 50 % of that rate", ms(me_at_half.p(99)), "ms"),
        Figure(
            "identity",
            f"password logins of {len(identifiers)} people round robin, {LOGIN_CALLERS} callers back to back",
            login_rate,
            "req/s",
        ),
    )
