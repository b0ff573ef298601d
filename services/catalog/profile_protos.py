"""Firms and lawyers as CatalogService answers them: what anyone sees, and what staff alone see (licence and
credit code, capital, the agreement's term and digest, the inspection date)."""

from __future__ import annotations

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import money_pb2
from services.catalog import domain, qualifications
from services.catalog.models import FirmRow, LawyerRow
from services.runtime.context import Principal
from services.runtime.records import utcnow


def firm_proto(row: FirmRow, principal: Principal | None) -> pb.Firm:
    firm = pb.Firm(
        id=row.id,
        name=row.name,
        city=row.city,
        address=row.address,
        location=pb.Location(lat=row.lat, lng=row.lng),
        opening_hours=[pb.OpeningHours(**hours) for hours in row.opening_hours],
        transit_routes=row.transit_routes,
        staff=[pb.StaffMember(**member) for member in row.staff],
        rating=pb.Rating(average=row.rating_average, count=row.rating_count),
        phone=row.phone,
        description=row.description,
        status=row.status,
        takes_new_work=qualifications.agreement_in_force(
            qualifications.takes_work_until(row.agreement_ends_on, row.agreement_grace_ends_on),
            qualifications.today_in_china(utcnow()),
        ),
    )
    if domain.sees_licence(principal):
        firm.credit_code = row.credit_code or ""
        firm.registered_capital.CopyFrom(money_pb2.Money(amount=row.registered_capital_fen, currency="CNY"))
        firm.agreement_starts_on = row.agreement_starts_on.isoformat() if row.agreement_starts_on else ""
        firm.agreement_ends_on = row.agreement_ends_on.isoformat() if row.agreement_ends_on else ""
        firm.agreement_sha256 = row.agreement_sha256
        if row.agreement_ends_on is None and row.agreement_grace_ends_on is not None:
            firm.agreement_grace_ends_on = row.agreement_grace_ends_on.isoformat()
    return firm


def lawyer_proto(row: LawyerRow, principal: Principal | None, unavailable_reason: str) -> pb.Lawyer:
    staff = domain.sees_licence(principal)
    return pb.Lawyer(
        id=row.id,
        user_id=row.user_id,
        firm_id=row.firm_id,
        name=row.name,
        specialty=row.specialty,
        fields=row.fields,
        service_hours=[pb.ServiceHours(**window) for window in row.service_hours],
        service_exceptions=[pb.ServiceException(**item) for item in row.service_exceptions],
        years_of_practice=row.years_of_practice,
        licence_number=row.licence_number if staff else "",
        online=row.online,
        rating=pb.Rating(average=row.rating_average, count=row.rating_count),
        active=row.active,
        bio=row.bio,
        city=row.city,
        verification=row.verification,
        inspection_due_on=row.inspection_due_on.isoformat() if staff and row.inspection_due_on else "",
        unavailable_reason=unavailable_reason,
    )
