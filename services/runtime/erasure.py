"""What every service needs to honour an erasure request (R-PRIV-1, PIPL art. 47): identity erases the
account and publishes `user.erased`; each service holding that user's personal data runs a durable consumer
(`"erasure": {SUBJECT: ...}` in its events.py table) whose handler erases or pseudonymises its own copy in
the same transaction that records the event id, so a redelivered event has no second effect. What each service keeps and why is the decision table in docs/erasure.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import events_pb2 as identity_events
from services.runtime.events import Handler, unpack

SUBJECT = "identity.user.erased"
# What erased free text reads as, wherever a record is kept but its personal content is not.
ERASED_TEXT = "[已删除]"


def redact_values(values: Mapping[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """`values` with every value replaced by ERASED_TEXT except the keys in `keep` (facts that are not
    personal, e.g. a booking's lawyer and time). The keys stay, so the record still shows what was asked."""
    kept = set(keep)
    return {key: (value if key in kept else ERASED_TEXT) for key, value in values.items()}


def erasure_handler(erase_user: Callable[[AsyncSession, str], Awaitable[None]]) -> Handler[object]:
    """The `erasure` consumer's handler of a service whose `erase_user(session, user_id)` needs nothing
    of the handlers' context."""

    async def user_erased(context: object, envelope: EventEnvelope, session: AsyncSession) -> None:
        await erase_user(session, unpack(envelope, identity_events.UserErased).user_id)

    return user_erased
