"""Which lawyers' work a law firm's system may read (issue 17 item 4): its firm's lawyers, as the catalog
knows them at the time of the call. Booking, documents and consultation answer a firm's reads through this,
so the catalog stays the one owner of who works for which firm."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, overload

from counsel.catalog.v1 import catalog_service_pb2 as catalog_pb
from counsel.common.v1 import paging_pb2
from services.runtime.context import Principal

if TYPE_CHECKING:
    from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceAsyncStub

# Lawyers asked for per page; a firm's roster is read whole, page by page.
ROSTER_PAGE = 100


async def firm_lawyer_ids(catalog: CatalogServiceAsyncStub, firm_id: str) -> frozenset[str]:
    """The ids of `firm_id`'s lawyers, active or not: their catalog profiles and their identity accounts
    (the services record an assigned lawyer by account; a booking also names the profile, and a profile may
    have no account yet). The call carries the firm's own token (outgoing calls propagate the caller's), so
    the catalog answers as it would answer the firm."""
    accounts: set[str] = set()
    cursor = ""
    while True:
        reply = await catalog.ListLawyers(
            catalog_pb.ListLawyersRequest(
                firm_id=firm_id, page=paging_pb2.PageRequest(limit=ROSTER_PAGE, cursor=cursor)
            )
        )
        for lawyer in reply.lawyers:
            accounts.update(id_ for id_ in (lawyer.id, lawyer.user_id) if id_)
        cursor = reply.page.next_cursor
        if not cursor:
            return frozenset(accounts)


@overload
async def with_firm_lawyers(principal: Principal, catalog: CatalogServiceAsyncStub | None) -> Principal: ...
@overload
async def with_firm_lawyers(
    principal: Principal | None, catalog: CatalogServiceAsyncStub | None
) -> Principal | None: ...
async def with_firm_lawyers(
    principal: Principal | None, catalog: CatalogServiceAsyncStub | None
) -> Principal | None:
    """`principal` as it may read: a firm's system with its firm's lawyers' ids filled in; anyone else
    unchanged. Without a catalog to ask, a firm's system reads nothing (fails closed)."""
    if principal is None or not principal.is_firm_system or not principal.firm_id or catalog is None:
        return principal
    return dataclasses.replace(principal, firm_lawyers=await firm_lawyer_ids(catalog, principal.firm_id))
