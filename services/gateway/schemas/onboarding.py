"""Bodies and answers of firm onboarding and lawyer verification (API.md "Firms, lawyers and online calls")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.gateway.schemas.catalog import Lawyer, LocationInput
from services.gateway.schemas.common import INT32_MAX
from services.runtime.limits import JSON_SAFE_INTEGER_MAX


class Platform(BaseModel):
    name: str
    icp_licence: str
    business_licence: str


class RegisteredCapital(BaseModel):
    # Wider than an int32, unlike every other amount: firms' registered capitals reach hundreds of millions of
    # yuan. The catalog refuses what no firm registers (qualifications.MAX_REGISTERED_CAPITAL_FEN).
    amount: int = Field(
        ge=1, le=JSON_SAFE_INTEGER_MAX, description="Integer number of fen (an int64; ¥5 亿 is 50000000000)."
    )
    currency: Literal["CNY"] = "CNY"

    model_config = {"extra": "forbid"}


class NewFirm(BaseModel):
    name: str = Field(max_length=100)
    credit_code: str = Field(max_length=40, description="Unified social credit code (GB 32100-2015).")
    registered_capital: RegisteredCapital
    address: str = Field(max_length=200)
    city: str = Field(default="", max_length=50)
    location: LocationInput | None = None

    model_config = {"extra": "forbid"}


class FirmCreated(BaseModel):
    id: str
    status: str
    name: str
    credit_code: str


class FirmAdminInvitation(BaseModel):
    phone: str | None = Field(default=None, max_length=20)
    email: str | None = Field(default=None, max_length=254)

    model_config = {"extra": "forbid"}


class FirmAdminInvited(BaseModel):
    firm_id: str
    user_id: str


class Verification(BaseModel):
    decision: Literal["verified", "rejected"]
    notes: str = Field(default="", max_length=2000)

    model_config = {"extra": "forbid"}


class VerificationRecord(BaseModel):
    decision: str
    notes: str
    verifier_id: str
    verifier_role: str
    decided_at: str
    certificate_number: str
    inspection_due_on: str | None
    practice_certificate_sha256: str
    degree_certificate_sha256: str
    years_of_practice: int = Field(le=INT32_MAX)

    @classmethod
    def from_proto(cls, record: pb.LawyerVerification) -> VerificationRecord:
        return cls(
            decision=record.decision,
            notes=record.notes,
            verifier_id=record.verifier_id,
            verifier_role=record.verifier_role,
            decided_at=record.decided_at.ToJsonString(),
            certificate_number=record.certificate_number,
            inspection_due_on=record.inspection_due_on or None,
            practice_certificate_sha256=record.practice_certificate_sha256,
            degree_certificate_sha256=record.degree_certificate_sha256,
            years_of_practice=record.years_of_practice,
        )


class VerificationHistory(BaseModel):
    items: list[VerificationRecord]


class PendingCredentials(BaseModel):
    items: list[Lawyer] = Field(
        description="Lawyers whose credentials await a decision, oldest submission first."
    )
