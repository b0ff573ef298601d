"""Files in the object store sealed with their owner's data key (R-PRIV-1, docs/privacy.md): the bytes are
cut into segments of SEGMENT_BYTES, each sealed on its own (AES-256-GCM, `SubjectCipher.seal_bytes`) with the
object's name, the segment's index and whether it is the last one as associated data, so a download opens
segment by segment — one in memory, whatever the file's size — and a segment moved, dropped, reordered or
copied into another object does not open. The SHA-256 a version records stays over the plaintext the client
receives (`Repr-Digest` unchanged); the object store sees only ciphertext, and a destroyed data key leaves
every copy of it (the stream's replicas, backups) unreadable."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

from services.runtime.keys import NONCE_BYTES, TAG_BYTES, SealError, SubjectCipher

SEGMENT_BYTES = 64 * 1024
SEALED_SEGMENT_BYTES = NONCE_BYTES + SEGMENT_BYTES + TAG_BYTES


def _field(name: str, index: int, last: bool) -> str:
    return f"files.{name}.{index}.{'last' if last else 'more'}"


def seal_file(cipher: SubjectCipher, name: str, content: bytes) -> bytes:
    """`content` sealed segment by segment for the object `name` (an empty file is one empty segment)."""
    segments = [content[at : at + SEGMENT_BYTES] for at in range(0, len(content), SEGMENT_BYTES)] or [b""]
    return b"".join(
        cipher.seal_bytes(_field(name, index, index == len(segments) - 1), segment)
        for index, segment in enumerate(segments)
    )


async def open_file(cipher: SubjectCipher, name: str, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The plaintext of the sealed object `name`, a segment at a time, from its stored chunks (whose
    boundaries need not match the segments'). SealError when a segment does not open or the last is
    missing (a truncated object)."""
    pending = b""
    index = 0
    async for chunk in chunks:
        pending += chunk
        # A full segment is the last one only when nothing follows it: keep it until more bytes arrive.
        while len(pending) > SEALED_SEGMENT_BYTES:
            yield cipher.open_bytes(_field(name, index, False), pending[:SEALED_SEGMENT_BYTES])
            pending = pending[SEALED_SEGMENT_BYTES:]
            index += 1
    if not pending:
        raise SealError(f"the sealed file {name} is truncated")
    yield cipher.open_bytes(_field(name, index, True), pending)
