"""Sealing anew at start, with a person's data key, what the secret-key `FieldCipher` sealed before data keys
existed (`v1:` values): notification's contact addresses, identity's e-mails, phones and logins' places
(docs/privacy.md). Migrations never hold the master key, so a service does it before it serves: a batch of
rows per transaction, locked `FOR UPDATE SKIP LOCKED` by the caller's query, so replicas starting together
share the work and a second start finds nothing (`sealed_rows.in_batches`, the one batch loop)."""

from __future__ import annotations

from services.runtime.crypto import FieldCipher
from services.runtime.keys import SubjectCipher

FORMER = "v1:"  # FieldCipher's values
FORMER_PATTERN = FORMER + "%"  # for the callers' `LIKE`


def sealed_anew(cipher: SubjectCipher, former: FieldCipher, field: str, value: str) -> str:
    """`value` sealed with `cipher` as `field` when `former` sealed it, else as it is. A shredded person's
    leftover goes (""): nothing can be sealed for them any more."""
    if not value.startswith(FORMER):
        return value
    return "" if cipher.destroyed else cipher.seal(field, former.decrypt(value))
