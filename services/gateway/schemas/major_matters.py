"""Major matters as the public API shows them (§5.3.1, R-CON-4)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from counsel.consultation.v1 import consultation_service_pb2 as pb
from services.gateway.schemas.common import RequestModel, or_none, rfc3339


class EscalateMajorMatter(RequestModel):
    reason: str = Field(min_length=1, max_length=2000)
    mode: Literal["at_firm", "on_site"] = Field(
        default="at_firm", description="Where the team meets the client: at the firm (default) or on site."
    )
    address: str | None = Field(
        default=None, max_length=500, description="The client's address, for on_site."
    )


class WriteConclusion(RequestModel):
    body: str = Field(min_length=1, max_length=20000)


class MajorMatter(BaseModel):
    major: bool = True
    consultation_id: str
    status: str = Field(description="team_formed|conclusion_drafted|concluded")
    team: list[str] = Field(description="The team's lawyers, the lead first; at least two of the field.")
    booking_id: str | None = Field(description="The offline meeting held for the client; null when none.")
    reason: str | None = Field(description="Staff only.")
    conclusion: str | None = Field(description="For the client once every team member signed.")
    signed_by: list[str]
    created_at: str | None
    concluded_at: str | None

    @classmethod
    def from_proto(cls, matter: pb.MajorMatter) -> MajorMatter:
        return cls(
            consultation_id=matter.consultation_id,
            status=matter.status,
            team=list(matter.team),
            booking_id=or_none(matter.booking_id),
            reason=or_none(matter.reason),
            conclusion=or_none(matter.conclusion),
            signed_by=list(matter.signed_by),
            created_at=rfc3339(matter, "created_at"),
            concluded_at=rfc3339(matter, "concluded_at"),
        )
