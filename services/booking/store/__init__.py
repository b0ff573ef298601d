"""Booking persistence, one store per aggregate over one base (`base`: the lawyer as the catalog describes
them, the overlap PostgreSQL refuses as a 409, stage records and events): one transaction per change, its
outbox event included."""

from __future__ import annotations

from dataclasses import dataclass

from services.booking import domain
from services.booking.store.bookings import Bookings
from services.booking.store.connect import ConnectRequests
from services.booking.store.visits import Visits
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys


@dataclass(frozen=True)
class BookingStores:
    """The booking service's stores, built over one database and one outbox under one policy."""

    db: Database
    bookings: Bookings
    connect: ConnectRequests
    visits: Visits

    @classmethod
    def build(
        cls, db: Database, outbox: Outbox, keys: DataKeys, policy: domain.Policy = domain.POLICY
    ) -> BookingStores:
        return cls(
            db=db,
            bookings=Bookings(db, outbox, keys, policy),
            connect=ConnectRequests(db, outbox, keys, policy),
            visits=Visits(db, outbox, keys),
        )
