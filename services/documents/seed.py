"""The documents service's demo staff for local development: the demo reviewer, whose licence number an
approval records (§9.5). Its demo lawyers are the catalog's, copied from the catalog's `lawyer.changed`
events like every other lawyer (events.py). Idempotent."""

from __future__ import annotations

import uuid

from services.documents.store.roster import StaffRoster
from services.runtime.config import Settings
from services.runtime.db import Database

DEMO_REVIEWER_EMAIL = "reviewer@demo.counsel.test"
DEMO_REVIEWER_LICENCE = "11101200000000901"  # made up, in the 17-digit format of a PRC practising licence


def demo_user_id(email: str) -> str:
    """The id identity's demo seed gives the account `email` (services.identity.seed.demo_user_id; a unit
    test keeps the two in step)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"counsel-demo:{email}").hex


async def seed(db: Database, settings: Settings) -> None:
    """The local stack's seed of documents (deploy/local/bootstrap.py)."""
    await StaffRoster(db).upsert_staff(demo_user_id(DEMO_REVIEWER_EMAIL), "reviewer", DEMO_REVIEWER_LICENCE)
