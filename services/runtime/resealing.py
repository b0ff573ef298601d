"""Sealing anew at start, with a person's data key, what the secret-key `FieldCipher` sealed before data keys
existed (`v1:` values): notification's contact addresses, identity's e-mails, phones and logins' places
(docs/privacy.md). Migrations never hold the master key, so a service does it before it serves: a batch of
rows per transaction, locked `FOR UPDATE SKIP LOCKED` by the caller's query, so replicas starting together
share the work and a second start finds nothing (`sealed_rows.in_batches`, the one batch loop). Until every
row is sealed anew, reads open a `v1:` value with the former cipher (`opened`): during a rolling deploy a
process may read a row its own start has not reached yet, or one a process of the code before wrote since."""

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


def opened(cipher: SubjectCipher, former: FieldCipher, field: str, value: str, shredded: str) -> str:
    """`value` opened: by `former` while it is a `v1:` value not sealed anew yet, else by `cipher` as `field`;
    `shredded` in place of either once the person's key is destroyed (what a kept record shows)."""
    if value.startswith(FORMER):
        return shredded if cipher.destroyed else former.decrypt(value)
    return cipher.open_or(field, value, shredded)
