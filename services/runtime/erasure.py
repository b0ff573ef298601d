"""What every service needs to honour an erasure request (R-PRIV-1, PIPL art. 47): identity erases the
account and publishes `user.erased`; each service holding that user's personal data runs a durable consumer
(`"erasure": {SUBJECT: ...}` in its events.py table) whose handler erases or pseudonymises its own copy in
the same transaction that records the event id, so a redelivered event has no second effect. What each service keeps and why is the decision table in docs/erasure.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.common.v1.event_pb2 import EventEnvelope
from counsel.identity.v1 import events_pb2 as identity_events
from services.runtime.events import Handler, unpack
from services.runtime.keys import DataKeys, SubjectCipher, tenant_subject, user_subject

SUBJECT = "identity.user.erased"
# What erased free text reads as, wherever a record is kept but its personal content is not.
ERASED_TEXT = "[已删除]"


def redact_values(values: Mapping[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """`values` with every value replaced by ERASED_TEXT except the keys in `keep` (facts that are not
    personal, e.g. a booking's lawyer and time). The keys stay, so the record still shows what was asked."""
    kept = set(keep)
    return {key: (value if key in kept else ERASED_TEXT) for key, value in values.items()}


def opened(cipher: SubjectCipher, field: str, value: str) -> str:
    """The plaintext of a sealed field as a kept record shows it: ERASED_TEXT for a value an erasure redacted
    (written in clear over the sealed one) or whose subject's data key was destroyed."""
    if value == ERASED_TEXT:
        return value
    return cipher.open_or(field, value, ERASED_TEXT)


def erasure_handler(erase_user: Callable[[AsyncSession, str], Awaitable[None]]) -> Handler[object]:
    """The `erasure` consumer's handler of a service whose `erase_user(session, user_id)` needs nothing
    of the handlers' context."""

    async def user_erased(context: object, envelope: EventEnvelope, session: AsyncSession) -> None:
        await erase_user(session, unpack(envelope, identity_events.UserErased).user_id)

    return user_erased


class WithDataKeys(Protocol):
    """The handlers' context of a service that seals personal data with data keys."""

    @property
    def keys(self) -> DataKeys: ...


def shredded_subjects(erased: identity_events.UserErased) -> list[str]:
    """The data keys an erasure destroys (crypto-shredding, docs/privacy.md): the person's own, and their
    enterprise's when nobody else is left in it (an individual client's own enterprise included)."""
    subjects = [user_subject(erased.user_id)]
    if erased.tenant_erased and erased.tenant_id:
        subjects.append(tenant_subject(erased.tenant_id))
    return subjects


def shredding_erasure_handler(
    erase_user: Callable[[AsyncSession, str], Awaitable[None]],
) -> Handler[WithDataKeys]:
    """The `erasure` consumer's handler of a service that seals with data keys: `erase_user` redacts what a
    kept record shows, and the subjects' data keys are destroyed in the same transaction, so whatever they
    sealed — rows, WAL, backups, event payloads — stays unreadable."""

    async def user_erased(context: WithDataKeys, envelope: EventEnvelope, session: AsyncSession) -> None:
        erased = unpack(envelope, identity_events.UserErased)
        await erase_user(session, erased.user_id)
        connection = await session.connection()
        for subject in shredded_subjects(erased):
            await context.keys.destroy(subject, connection)

    return user_erased
