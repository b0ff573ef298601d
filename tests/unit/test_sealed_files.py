"""Files sealed segment by segment (services/runtime/sealed_files.py): any size and any chunking of the stored
bytes opens to the plaintext; a segment altered, dropped, reordered, cut off or read as another object does
not open, and a destroyed key opens nothing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from services.runtime.keys import KeyDestroyed, SealError, SubjectCipher
from services.runtime.sealed_files import SEALED_SEGMENT_BYTES, SEGMENT_BYTES, open_file, seal_file

CIPHER = SubjectCipher("tenant:t-1", os.urandom(32))


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for at in range(0, len(data), size):
        yield data[at : at + size]


async def opened(cipher: SubjectCipher, name: str, data: bytes, size: int = 128 * 1024) -> bytes:
    return b"".join([part async for part in open_file(cipher, name, chunked(data, size))])


@pytest.mark.parametrize(
    "length", [0, 1, SEGMENT_BYTES - 1, SEGMENT_BYTES, SEGMENT_BYTES + 1, 3 * SEGMENT_BYTES]
)
@pytest.mark.parametrize("chunk", [1000, SEALED_SEGMENT_BYTES, 128 * 1024])
async def test_every_size_opens_from_any_chunking(length: int, chunk: int) -> None:
    content = os.urandom(length)
    sealed = seal_file(CIPHER, "order/v1", content)
    assert len(content) < 16 or content[:16] not in sealed
    assert await opened(CIPHER, "order/v1", sealed, chunk) == content


async def test_a_segment_altered_dropped_reordered_or_cut_off_does_not_open() -> None:
    sealed = seal_file(CIPHER, "order/v1", os.urandom(2 * SEGMENT_BYTES + 10))
    first, second, last = (
        sealed[:SEALED_SEGMENT_BYTES],
        sealed[SEALED_SEGMENT_BYTES : 2 * SEALED_SEGMENT_BYTES],
        sealed[2 * SEALED_SEGMENT_BYTES :],
    )
    altered = bytearray(sealed)
    altered[100] ^= 1
    for broken in (bytes(altered), first + last, second + first + last, first + second, b""):
        with pytest.raises(SealError):
            await opened(CIPHER, "order/v1", broken)


async def test_another_object_or_subject_or_a_destroyed_key_opens_nothing() -> None:
    sealed = seal_file(CIPHER, "order/v1", b"contract")
    with pytest.raises(SealError):
        await opened(CIPHER, "order/v2", sealed)
    with pytest.raises(SealError):
        await opened(SubjectCipher("tenant:t-2", os.urandom(32)), "order/v1", sealed)
    with pytest.raises(KeyDestroyed):
        await opened(SubjectCipher("tenant:t-1", None), "order/v1", sealed)
