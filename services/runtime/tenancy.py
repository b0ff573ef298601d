"""Tenant isolation, enforced inside every service (R-ACC-4): the gateway's check is not enough."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from services.runtime.context import Principal
from services.runtime.errors import NotFound, Unauthenticated
from services.runtime.records import MAX_PAGE_SIZE, every_page


class ClientRecord(Protocol):
    client_id: str


R = TypeVar("R", bound=ClientRecord)


def signed_in(principal: Principal | None, action: str = "do this") -> Principal:
    if principal is None:
        raise Unauthenticated(f"sign in to {action}")
    return principal


def visible(principal: Principal | None, tenant_id: str, staff_roles: tuple[str, ...]) -> bool:
    """Clients see their own enterprise's objects; staff see them when their role is in `staff_roles`.
    Calls without a user token come from inside the platform (workflow activities) and see all."""
    if principal is None:
        return True
    if principal.is_client:
        return bool(principal.tenant_id) and principal.tenant_id == tenant_id
    return principal.has_role(*staff_roles)


def require_visible(
    principal: Principal | None, tenant_id: str, staff_roles: tuple[str, ...], what: str
) -> None:
    """404, not 403, so another tenant's objects are never revealed."""
    if not visible(principal, tenant_id, staff_roles):
        raise NotFound(f"no such {what}")


async def own_records(
    principal: Principal, list_page: Callable[[Principal, str, int, str], Awaitable[tuple[Sequence[R], str]]]
) -> list[R]:
    """Every record a client's tenant-scoped list (`list_page(principal, filter, limit, cursor)`, unfiltered)
    shows them that is their own (`client_id`), oldest first: a person's data export holds their records,
    never an enterprise colleague's. Staff are clients of nothing: none."""
    if not principal.is_client:
        return []
    rows = await every_page(lambda cursor: list_page(principal, "", MAX_PAGE_SIZE, cursor))
    return [row for row in rows if row.client_id == principal.user_id]
