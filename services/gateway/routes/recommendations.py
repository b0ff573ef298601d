"""Next purchases (§5.5, R-Q-2): what an enterprise's history suggests it buys next, with the reasons, for
the client and, for a follow-up, for agents and supervisors. Computed by the catalog service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from counsel.catalog.v1 import catalog_service_pb2 as pb
from services.gateway.deps import ClientsDep, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.recommendations import Recommendations

router = api_router("recommendations")

ClientOrStaff = Depends(require_roles("client", "client_admin", "agent", "supervisor"))


@router.get("/api/v1/recommendations", response_model=Recommendations, dependencies=[ClientOrStaff])
async def recommendations(
    clients: ClientsDep,
    enterprise_id: Annotated[
        str,
        Query(
            max_length=200, description="Agents and supervisors: the client enterprise (tenant) to follow up."
        ),
    ] = "",
) -> Recommendations:
    """The next purchases for the caller's enterprise (a client) or the named one (agents, supervisors),
    best first, at most 5. Another enterprise than a client's own is 404."""
    reply = await clients.catalog.GetRecommendations(
        pb.GetRecommendationsRequest(enterprise_id=enterprise_id)
    )
    return Recommendations.from_proto(reply)
