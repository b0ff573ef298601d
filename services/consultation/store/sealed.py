"""Case material sealed with its owner's data key (R-PRIV-1, docs/privacy.md): a consultation's question and
rating comment, its messages (follow-ups and replies), its calls' outcomes (the agent's notes), its
complaints (body, resolution, reopen reason), a major matter's reason and conclusion, and chat messages,
each under `owner_subject(the client's enterprise, the client)` with its field's name as associated data.

The stores seal each value in the transaction that writes it; their read methods return rows opened
(plaintext) once that transaction has ended, so an opened value is never flushed back. A consultation's
subject stays in clear: it is the title lists, notifications and the `consultation.submitted` event show.
Values erasure redacts read as ERASED_TEXT, and so does everything of a subject whose key was destroyed."""

from __future__ import annotations

from collections.abc import Iterable

from services.consultation.models import (
    ChatConversationRow,
    ChatMessageRow,
    ComplaintRow,
    ConsultationRow,
    MajorMatterRow,
    OnlineCallRow,
)
from services.consultation.store.base import ConsultationView
from services.runtime import sealed_rows
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.keys import DataKeys, SubjectCipher, owner_subject
from services.runtime.sealed_rows import SealedColumns

QUESTION = "consultations.question"
RATING_COMMENT = "consultations.rating_comment"
MESSAGE_BODY = "consultation_messages.body"
COMPLAINT_BODY = "consultation_complaints.body"
COMPLAINT_RESOLUTION = "consultation_complaints.resolution"
COMPLAINT_REOPEN_REASON = "consultation_complaints.reopen_reason"
CHAT_BODY = "chat_messages.body"
CALL_OUTCOME = "consultation_calls.outcome"
MAJOR_REASON = "consultation_major_matters.reason"
MAJOR_CONCLUSION = "consultation_major_matters.conclusion"
ONLINE_CALL_OUTCOME = "online_calls.outcome"


def case_subject(row: ConsultationRow | ComplaintRow | ChatConversationRow | OnlineCallRow) -> str:
    """Whose data key seals the case material of a consultation, complaint or chat conversation."""
    return owner_subject(row.tenant_id, row.client_id)


async def open_view(keys: DataKeys, view: ConsultationView) -> ConsultationView:
    """`view` with its question, rating comment and messages in plaintext (call after its transaction)."""
    cipher = await keys.cipher(case_subject(view.row))
    _open_consultation(cipher, view.row)
    for message in view.messages:
        message.body = opened(cipher, MESSAGE_BODY, message.body)
    for call in view.calls:
        call.outcome = opened(cipher, CALL_OUTCOME, call.outcome)
    if view.major is not None:
        _open_major(cipher, view.major)
    return view


async def open_major_matters(
    keys: DataKeys, consultation: ConsultationRow, rows: Iterable[MajorMatterRow]
) -> None:
    cipher = await keys.cipher(case_subject(consultation))
    for row in rows:
        _open_major(cipher, row)


def _open_major(cipher: SubjectCipher, row: MajorMatterRow) -> None:
    row.reason = opened(cipher, MAJOR_REASON, row.reason)
    row.conclusion = opened(cipher, MAJOR_CONCLUSION, row.conclusion)


async def open_consultations(keys: DataKeys, rows: Iterable[ConsultationRow]) -> None:
    for row in rows:
        _open_consultation(await keys.cipher(case_subject(row)), row)


async def open_complaints(keys: DataKeys, rows: Iterable[ComplaintRow]) -> None:
    for row in rows:
        cipher = await keys.cipher(case_subject(row))
        row.body = opened(cipher, COMPLAINT_BODY, row.body)
        row.resolution = opened(cipher, COMPLAINT_RESOLUTION, row.resolution)
        row.reopen_reason = opened(cipher, COMPLAINT_REOPEN_REASON, row.reopen_reason)


async def open_chat(
    keys: DataKeys, conversation: ChatConversationRow, messages: Iterable[ChatMessageRow]
) -> None:
    cipher = await keys.cipher(case_subject(conversation))
    for message in messages:
        message.body = opened(cipher, CHAT_BODY, message.body)


def _open_consultation(cipher: SubjectCipher, row: ConsultationRow) -> None:
    row.question = opened(cipher, QUESTION, row.question)
    row.rating_comment = opened(cipher, RATING_COMMENT, row.rating_comment)


# --- rows written before sealing -------------------------------------------------------------------------
# Major matters are not listed: their reason and conclusion were sealed from their very first row.
_SEALED_COLUMNS = (
    SealedColumns(
        "consultations",
        {"question": QUESTION, "rating_comment": RATING_COMMENT},
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM consultations t WHERE {clear}",
    ),
    SealedColumns(
        "consultation_messages",
        {"body": MESSAGE_BODY},
        "SELECT t.id, o.tenant_id, o.client_id, {columns} FROM consultation_messages t "
        "JOIN consultations o ON o.id = t.consultation_id WHERE {clear}",
    ),
    SealedColumns(
        "consultation_calls",
        {"outcome": CALL_OUTCOME},
        "SELECT t.id, o.tenant_id, o.client_id, {columns} FROM consultation_calls t "
        "JOIN consultations o ON o.id = t.consultation_id WHERE {clear}",
    ),
    SealedColumns(
        "online_calls",
        {"outcome": ONLINE_CALL_OUTCOME},
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM online_calls t WHERE {clear}",
    ),
    SealedColumns(
        "consultation_complaints",
        {
            "body": COMPLAINT_BODY,
            "resolution": COMPLAINT_RESOLUTION,
            "reopen_reason": COMPLAINT_REOPEN_REASON,
        },
        "SELECT t.id, t.tenant_id, t.client_id, {columns} FROM consultation_complaints t WHERE {clear}",
    ),
    SealedColumns(
        "chat_messages",
        {"body": CHAT_BODY},
        "SELECT t.id, o.tenant_id, o.client_id, {columns} FROM chat_messages t "
        "JOIN chat_conversations o ON o.id = t.conversation_id WHERE {clear}",
    ),
)


async def seal_clear_rows(db: Database, keys: DataKeys) -> int:
    """Seal every value still in clear (rows written before this service sealed case material); returns how
    many rows changed (services/runtime/sealed_rows.py: at start, in batches, replicas sharing the work)."""
    return await sealed_rows.seal_clear_rows(db, keys, _SEALED_COLUMNS)
