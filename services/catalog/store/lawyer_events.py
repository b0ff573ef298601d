"""`lawyer.changed`: a lawyer profile's assignable state, published in the transaction of whatever changed it —
an edit, an activation (store/lawyers.py), a verification or a firm's agreement (store/onboarding.py) or a passed
assessment (store/assessments.py). `publish_lawyer_changed` is the one way to publish it."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from services.catalog import qualifications
from services.catalog.models import FirmRow, LawyerRow
from services.catalog.quality_models import QualificationRow
from services.runtime.events import Outbox
from services.runtime.records import to_timestamp, utcnow


async def passed_fields(session: AsyncSession, lawyer_profile_id: str) -> list[str]:
    """The fields whose assessment the profile passed, sorted."""
    statement = (
        select(QualificationRow.field)
        .where(QualificationRow.lawyer_profile_id == lawyer_profile_id)
        .order_by(col(QualificationRow.field))
    )
    return list((await session.exec(statement)).all())


async def publish_lawyer_changed(
    outbox: Outbox, session: AsyncSession, row: LawyerRow, actor_id: str
) -> None:
    """Publish the profile's assignable state, with the fields it is qualified for: `active` is whether the
    lawyer may take new work now (active, verified, their firm's agreement in force, their inspection not
    overdue); the FirmAgreementWorkflow's and InspectionDueWorkflow's timers republish it when a date passes."""
    passed = set(await passed_fields(session, row.id))
    firm = await session.get(FirmRow, row.firm_id)
    reason = qualifications.why_not_assignable(
        row.active,
        row.verification,
        qualifications.takes_work_until(firm.agreement_ends_on, firm.agreement_grace_ends_on)
        if firm
        else None,
        row.inspection_due_on,
        qualifications.today_in_china(utcnow()),
    )
    await outbox.add(
        session,
        "lawyer.changed",
        events_pb2.LawyerChanged(
            lawyer_id=row.id,
            user_id=row.user_id,
            firm_id=row.firm_id,
            name=row.name,
            fields=row.fields,
            active=not reason,
            service_hours=[
                events_pb2.LawyerServiceWindow(
                    weekday=int(w.get("weekday", 0)),
                    start=str(w.get("start", "")),
                    end=str(w.get("end", "")),
                )
                for w in row.service_hours
            ],
            updated_at=to_timestamp(row.updated_at),
            passed_fields=[field for field in row.fields if field in passed],
            unavailable_reason=reason,
        ),
        aggregate_id=row.id,
        actor_id=actor_id,
    )
