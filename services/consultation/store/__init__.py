"""Consultation persistence, one store per aggregate over one base (`base`: the consultation row every
change locks first, its stage records and its view): one transaction per change, its outbox event
included. Instant chat (conversations, purchase-intent signals) lives here too: the same database."""

from __future__ import annotations

from dataclasses import dataclass

from services.consultation.store.assignments import Assignments
from services.consultation.store.base import ConsultationView
from services.consultation.store.calls import Calls
from services.consultation.store.complaints import Complaints
from services.consultation.store.consultations import Consultations
from services.consultation.store.conversations import Conversations
from services.consultation.store.lawyers import LawyerProjection
from services.consultation.store.major_matters import MajorMatters
from services.consultation.store.online_calls import OnlineCalls
from services.consultation.store.signals import PurchaseSignals
from services.runtime.db import Database
from services.runtime.events import Outbox
from services.runtime.keys import DataKeys

__all__ = ["ConsultationStores", "ConsultationView"]


@dataclass(frozen=True)
class ConsultationStores:
    """The consultation service's stores, built over one database and one outbox."""

    consultations: Consultations
    assignments: Assignments
    complaints: Complaints
    calls: Calls
    online_calls: OnlineCalls
    lawyers: LawyerProjection
    conversations: Conversations
    signals: PurchaseSignals
    major_matters: MajorMatters

    @classmethod
    def build(cls, db: Database, outbox: Outbox, keys: DataKeys) -> ConsultationStores:
        """`keys` seal the case material the stores write (store/sealed.py)."""
        return cls(
            consultations=Consultations(db, outbox, keys),
            assignments=Assignments(db, outbox, keys),
            complaints=Complaints(db, outbox, keys),
            calls=Calls(db, outbox, keys),
            online_calls=OnlineCalls(db, outbox, keys),
            lawyers=LawyerProjection(db),
            conversations=Conversations(db, outbox, keys),
            signals=PurchaseSignals(db, keys),
            major_matters=MajorMatters(db, outbox, keys),
        )
