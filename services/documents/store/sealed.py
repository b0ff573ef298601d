"""Case material of a document order sealed with its owner's data key (R-PRIV-1, docs/privacy.md): the
requirement answers (each value under `document_orders.requirements.<name>`, the names stay readable),
the versions' notes and review comments, the revision instructions, and the uploaded files
(services/runtime/sealed_files.py), each under `owner_subject(the client's enterprise, the client)`.

The stores seal each value in the transaction that writes it; views are opened into copies of the rows, so
an opened value never reaches the session (and is never flushed back). Values erasure redacted, and all
values of a subject whose key was destroyed, read as ERASED_TEXT."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.documents.models import DocumentOrderRow, DocumentVersionRow
from services.runtime import sealed_rows
from services.runtime.db import Database
from services.runtime.erasure import opened
from services.runtime.errors import NotFound
from services.runtime.keys import DataKeys, SealedValueError, SubjectCipher, owner_subject
from services.runtime.sealed_files import open_file, seal_file
from services.runtime.sealed_rows import SealedColumns, seal_in_batches, sealed_value

log = logging.getLogger(__name__)

REQUIREMENTS = "document_orders.requirements"
VERSION_NOTE = "document_versions.note"
REVIEW_COMMENT = "document_versions.review_comment"
INSTRUCTIONS = "document_revisions.instructions"


def order_subject(row: DocumentOrderRow) -> str:
    """Whose data key seals a document order's case material."""
    return owner_subject(row.tenant_id, row.client_id)


def seal_requirements(cipher: SubjectCipher, requirements: Mapping[str, str]) -> str:
    """The requirements as stored: a JSON object whose values are sealed, each bound to its name."""
    sealed = {name: cipher.seal(f"{REQUIREMENTS}.{name}", value) for name, value in requirements.items()}
    return json.dumps(sealed, ensure_ascii=False)


def open_requirements(cipher: SubjectCipher, requirements_json: str) -> str:
    answers = json.loads(requirements_json or "{}")
    return json.dumps(
        {name: opened(cipher, f"{REQUIREMENTS}.{name}", value) for name, value in answers.items()},
        ensure_ascii=False,
    )


async def opened_order(keys: DataKeys, row: DocumentOrderRow) -> DocumentOrderRow:
    """A copy of `row` with its requirements in plaintext."""
    cipher = await keys.cipher(order_subject(row))
    copy = DocumentOrderRow(**row.model_dump())
    copy.requirements_json = open_requirements(cipher, row.requirements_json)
    return copy


def opened_version(cipher: SubjectCipher, row: DocumentVersionRow) -> DocumentVersionRow:
    """A copy of `row` with its note and review comment in plaintext."""
    copy = DocumentVersionRow(**row.model_dump())
    copy.note = opened(cipher, VERSION_NOTE, row.note)
    copy.review_comment = opened(cipher, REVIEW_COMMENT, row.review_comment)
    return copy


# --- rows written before sealing -------------------------------------------------------------------------
_SEALED_COLUMNS = (
    SealedColumns(
        "document_versions",
        {"note": VERSION_NOTE, "review_comment": REVIEW_COMMENT},
        "SELECT t.id, o.tenant_id, o.client_id, {columns} FROM document_versions t "
        "JOIN document_orders o ON o.id = t.document_order_id WHERE {clear}",
    ),
    SealedColumns(
        "document_revisions",
        {"instructions": INSTRUCTIONS},
        "SELECT t.id, o.tenant_id, o.client_id, {columns} FROM document_revisions t "
        "JOIN document_orders o ON o.id = t.document_order_id WHERE {clear}",
    ),
)
_CLEAR_REQUIREMENTS = (
    "SELECT t.id, t.tenant_id, t.client_id, t.requirements_json FROM document_orders t WHERE EXISTS ("
    "SELECT 1 FROM json_each_text(t.requirements_json::json) answer WHERE answer.value <> '' "
    "AND answer.value <> :erased AND answer.value NOT LIKE :sealed)"
)


async def seal_clear_rows(db: Database, keys: DataKeys) -> int:
    """Seal every value still in clear (written before this service sealed case material); returns how many
    rows changed (services/runtime/sealed_rows.py: at start, in batches, replicas sharing the work)."""
    changed = await seal_in_batches(db, keys, _CLEAR_REQUIREMENTS, {}, _seal_requirements_row)
    return changed + await sealed_rows.seal_clear_rows(db, keys, _SEALED_COLUMNS)


async def _seal_requirements_row(
    conn: AsyncConnection, cipher: SubjectCipher, row: Mapping[str, Any]
) -> None:
    answers = {
        name: sealed_value(cipher, f"{REQUIREMENTS}.{name}", value)
        for name, value in json.loads(row["requirements_json"]).items()
    }
    await conn.execute(
        text("UPDATE document_orders SET requirements_json = :answers WHERE id = :id"),
        {"answers": json.dumps(answers, ensure_ascii=False), "id": row["id"]},
    )


# Files are read whole and written back in the batch's transaction, so a batch is small.
_FILE_BATCH = 10
_CLEAR_FILES = (
    "SELECT t.id, o.tenant_id, o.client_id, t.object_name, t.sha256 FROM document_versions t "
    "JOIN document_orders o ON o.id = t.document_order_id WHERE NOT t.file_sealed AND t.id <> ALL(:skipped)"
)


class ObjectFiles(Protocol):
    """The object store as re-sealing needs it (services/documents/files.DocumentFiles)."""

    def chunks(self, name: str) -> AsyncIterator[bytes]: ...

    async def put(self, name: str, content: bytes) -> None: ...

    async def delete(self, name: str) -> None: ...


async def seal_clear_files(db: Database, keys: DataKeys, files: ObjectFiles) -> int:
    """Seal every version's object stored before documents sealed files (`file_sealed` false) with its
    order's data key, under the same name, then mark the version sealed; returns how many were sealed.
    Run in the background at start, in small batches (replicas skip each other's locked versions).

    Crash-safe and idempotent: the object is written before the version is marked, and an object that no
    longer hashes to the version's SHA-256 but opens to it was sealed by a run that stopped before marking
    it, so it is only marked. The SHA-256 (over the plaintext, `Repr-Digest`) and the size never change. An
    object that matches its SHA-256 neither way is left as it is and logged; a file of a subject whose key
    was destroyed is deleted (nothing can be sealed for it any more)."""
    skipped: list[str] = []  # read by the query of every batch: a file left as it is is not offered again

    async def seal_file_of(conn: AsyncConnection, cipher: SubjectCipher, row: Mapping[str, Any]) -> None:
        name = row["object_name"]
        try:
            stored = b"".join([chunk async for chunk in files.chunks(name)])
        except NotFound:
            stored = None
        if cipher.destroyed:
            await files.delete(name)
        elif stored is not None and hashlib.sha256(stored).hexdigest() == row["sha256"]:
            await files.put(name, seal_file(cipher, name, stored))
        elif stored is None or not await _opens_to(cipher, name, stored, row["sha256"]):
            log.error(
                "a stored file matches its digest neither clear nor sealed", extra={"version_id": row["id"]}
            )
            skipped.append(row["id"])
            return
        await conn.execute(
            text("UPDATE document_versions SET file_sealed = true WHERE id = :id"), {"id": row["id"]}
        )

    sealed = await seal_in_batches(
        db, keys, _CLEAR_FILES, {"skipped": skipped}, seal_file_of, batch=_FILE_BATCH
    )
    return sealed - len(skipped)


async def _opens_to(cipher: SubjectCipher, name: str, stored: bytes, sha256: str) -> bool:
    """Whether `stored` is the object `name` sealed from a plaintext whose SHA-256 is `sha256`."""

    async def whole() -> AsyncIterator[bytes]:
        yield stored

    digest = hashlib.sha256()
    try:
        async for segment in open_file(cipher, name, whole()):
            digest.update(segment)
    except SealedValueError:
        return False
    return digest.hexdigest() == sha256
