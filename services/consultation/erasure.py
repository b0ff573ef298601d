"""Erasure of a user's personal data in consultation (R-PRIV-1): see docs/erasure.md for what is kept.

The consultations a client asked stay as records of the service given (ids, kind, legal field, lawyer,
deadlines, stages, rating stars) but their text goes: subject, question, rating comment, every message in
them (the lawyer's replies discuss the client's case), a major matter's reason and conclusion, and the
client's complaints. Messages the user wrote
in other consultations (a staff member being erased) lose their text too."""

from __future__ import annotations

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.consultation.models import (
    ChatConversationRow,
    ChatMessageRow,
    ClientSignalRow,
    ComplaintRow,
    ConsultationMessageRow,
    ConsultationRow,
    MajorMatterRow,
)
from services.runtime.erasure import ERASED_TEXT


async def erase_user(session: AsyncSession, user_id: str) -> None:
    """Erase or pseudonymise `user_id`'s personal data, in the erasure consumer's transaction."""
    theirs = select(ConsultationRow.id).where(col(ConsultationRow.client_id) == user_id)
    await session.execute(
        update(ConsultationRow)
        .where(col(ConsultationRow.client_id) == user_id)
        .values(subject=ERASED_TEXT, question=ERASED_TEXT, rating_comment="")
    )
    await session.execute(
        update(ConsultationMessageRow)
        .where(
            col(ConsultationMessageRow.consultation_id).in_(theirs)
            | (col(ConsultationMessageRow.author_id) == user_id)
        )
        .values(body=ERASED_TEXT)
    )
    await session.execute(  # the team and its signatures stay: they are the record of the service given
        update(MajorMatterRow)
        .where(col(MajorMatterRow.consultation_id).in_(theirs))
        .values(reason=ERASED_TEXT, conclusion=ERASED_TEXT)
    )
    await session.execute(
        update(ComplaintRow).where(col(ComplaintRow.client_id) == user_id).values(body=ERASED_TEXT)
    )
    await session.execute(  # the agent's resolution tells the client's story too; a resolved one keeps a text
        update(ComplaintRow)
        .where(col(ComplaintRow.client_id) == user_id, col(ComplaintRow.resolution) != "")
        .values(resolution=ERASED_TEXT)
    )
    await session.execute(  # why the client reopened it, likewise
        update(ComplaintRow)
        .where(col(ComplaintRow.client_id) == user_id, col(ComplaintRow.reopen_reason) != "")
        .values(reopen_reason=ERASED_TEXT)
    )
    their_chats = select(ChatConversationRow.id).where(col(ChatConversationRow.client_id) == user_id)
    await session.execute(
        update(ChatMessageRow)
        .where(
            col(ChatMessageRow.conversation_id).in_(their_chats) | (col(ChatMessageRow.author_id) == user_id)
        )
        .values(body=ERASED_TEXT)
    )
    await session.execute(delete(ClientSignalRow).where(col(ClientSignalRow.client_id) == user_id))
