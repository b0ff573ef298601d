"""The documents servicer's contract edges that need no database."""

from __future__ import annotations

from typing import Any, cast

import grpc
import pytest

from counsel.documents.v1 import documents_service_pb2 as pb
from services.documents.server import DocumentsServicer
from services.runtime.errors import Unimplemented


async def test_the_superseded_download_version_is_refused_as_unimplemented_naming_stream_version() -> None:
    """DownloadVersion stays in the contract (deprecated, for buf breaking) but held whole files in memory;
    a caller learns which RPC replaced it."""
    servicer = DocumentsServicer(cast(Any, None), cast(Any, None), cast(Any, None), cast(Any, None))
    with pytest.raises(Unimplemented, match="StreamVersion") as refused:
        await servicer.DownloadVersion(
            pb.DownloadVersionRequest(document_order_id="d1", version_number=1), cast(Any, None)
        )
    assert refused.value.code == grpc.StatusCode.UNIMPLEMENTED
