"""Documents persistence, one store per aggregate over one base (`base`: the document order row every change
locks first, its stage records, events and view): one transaction per change, its stage row and outbox
event included."""

from __future__ import annotations

from dataclasses import dataclass

from services.documents.store.base import OrderView
from services.documents.store.deadlines import BREACH_METRIC_KIND, Deadlines
from services.documents.store.orders import CreatedOrder, DocumentOrders, NewOrder
from services.documents.store.revisions import Revisions
from services.documents.store.roster import StaffRoster
from services.documents.store.versions import Versions
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys

__all__ = ["BREACH_METRIC_KIND", "CreatedOrder", "DocumentsStores", "NewOrder", "OrderView"]


@dataclass(frozen=True)
class DocumentsStores:
    """The documents service's stores, built over one database and one outbox; `keys` seal the case
    material they write (store/sealed.py)."""

    orders: DocumentOrders
    versions: Versions
    revisions: Revisions
    deadlines: Deadlines
    staff: StaffRoster

    @classmethod
    def build(cls, db: Database, outbox: Outbox, keys: DataKeys) -> DocumentsStores:
        return cls(
            orders=DocumentOrders(db, outbox, keys),
            versions=Versions(db, outbox, keys),
            revisions=Revisions(db, outbox, keys),
            deadlines=Deadlines(db, outbox, keys),
            staff=StaffRoster(db),
        )
