"""Browsing (R-ACC-3): a signed-in user's page views, published for identity's activity record."""

from __future__ import annotations

from counsel.catalog.v1 import events_pb2
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.events import Outbox


class Views:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def record_view(self, principal: Principal, kind: str, item_id: str) -> None:
        """Publish `<kind>.viewed` for a signed-in user's page view (identity's activity record, analytics)."""
        async with self.db.transaction() as session:
            await self.outbox.add(
                session,
                f"{kind}.viewed",
                events_pb2.ItemViewed(kind=kind, item_id=item_id, user_id=principal.user_id),
                aggregate_id=item_id,
                tenant_id=principal.tenant_id,
                actor_id=principal.user_id,
            )
