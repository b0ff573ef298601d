"""The overlap PostgreSQL refuses, as the booking service answers it (R-BK-1): a 409 `slot_taken`, never a 500 —
whether the exclusion constraint refused the insert or two overlapping inserts ended in a deadlock, which
PostgreSQL resolves by aborting one of them (tests/integration/test_booking_service.py races fifty)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from services.booking.store.base import SlotTaken, refusing_overlap


class PostgresError(Exception):
    """What asyncpg's errors carry that matters here: their SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "refusal",
    [
        IntegrityError("INSERT INTO bookings", {}, PostgresError("23P01")),
        DBAPIError("INSERT INTO bookings", {}, PostgresError("40P01")),
    ],
    ids=["exclusion violation", "deadlock between overlapping inserts"],
)
def test_an_overlapping_booking_is_a_409_naming_the_taken_slot(refusal: Exception) -> None:
    with pytest.raises(SlotTaken, match="already booked"), refusing_overlap("the lawyer is already booked"):
        raise refusal


def test_other_database_errors_are_not_taken_for_an_overlap() -> None:
    lost = DBAPIError("INSERT INTO bookings", {}, PostgresError("08006"))
    with pytest.raises(DBAPIError), refusing_overlap("the lawyer is already booked"):
        raise lost
