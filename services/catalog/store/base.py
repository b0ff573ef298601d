"""The base every catalog store shares: free-text search with ranked pages, keyset cursors, and the firm
scoping a firm admin's call meets in every query it reaches (another firm's lawyer or firm is NotFound)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, case, func, or_
from sqlmodel.ext.asyncio.session import AsyncSession

from services.catalog import domain, search
from services.catalog.models import FirmRow, LawyerRow
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.records import decode_cursor, encode_cursor

# A title match ranks above any body-only match (ts_rank values stay well below 1).
TITLE_BONUS = 1.0


def vector(model: Any) -> Any:
    """The generated tsvector column of a searchable table (not mapped on the model: see models.py)."""
    return model.__table__.c.search_vector


def keyset(cursor: str, size: int) -> list[str]:
    """The string values of a keyset cursor we issued; InvalidArgument for anything else (never a 5xx)."""
    values = decode_cursor(cursor)
    if len(values) != size or not all(isinstance(v, str) for v in values):
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued")
    return values


def _offset(cursor: str) -> int:
    """Ranked (search) results page by offset; the cursor says so, so a keyset cursor is refused."""
    if not cursor:
        return 0
    values = decode_cursor(cursor)
    if len(values) != 2 or values[0] != "rank" or not isinstance(values[1], int) or values[1] < 0:
        raise InvalidArgument.for_field("cursor", "is not a cursor this API issued")
    return int(values[1])


class TextSearch:
    """The match condition and rank of a free-text query over a table's search columns."""

    def __init__(self, query: str, vector: Any, titles: list[Any], bodies: list[Any]) -> None:
        pattern = domain.like_pattern(query)
        expression = search.tsquery(query)
        conditions: list[ColumnElement[bool]] = [c.ilike(pattern) for c in [*titles, *bodies]]
        title_hit = or_(*[c.ilike(pattern) for c in titles])
        rank: Any = case((title_hit, TITLE_BONUS), else_=0.0)
        if expression:
            tsquery = func.to_tsquery("simple", expression)
            conditions.append(vector.op("@@")(tsquery))
            rank = rank + func.ts_rank(vector, tsquery)
        self.condition = or_(*conditions)
        self.rank = rank


async def ranked(db: Database, statement: Any, limit: int, cursor: str) -> tuple[list[Any], str]:
    """One page of an ordered (e.g. ranked) statement, paged by offset."""
    offset = _offset(cursor)
    async with db.transaction() as session:
        rows = list((await session.exec(statement.offset(offset).limit(limit + 1))).all())
    if len(rows) > limit:
        return rows[:limit], encode_cursor("rank", offset + limit)
    return rows, ""


async def administered_firm(session: AsyncSession, principal: Principal, firm_id: str) -> FirmRow:
    """The firm `principal` manages; NotFound for any other (another firm's existence is not revealed)."""
    firm = await session.get(FirmRow, firm_id) if firm_id else None
    if firm is None or not domain.administers(principal, firm.id, firm.admin_user_ids):
        raise NotFound("no such firm")
    return firm


async def administered_lawyer(
    session: AsyncSession, principal: Principal, lawyer_id: str
) -> tuple[LawyerRow, FirmRow]:
    """The lawyer, row-locked, with its firm, when `principal` manages that firm; NotFound otherwise."""
    row = await session.get(LawyerRow, lawyer_id, with_for_update=True) if lawyer_id else None
    firm = await session.get(FirmRow, row.firm_id) if row is not None else None
    if row is None or firm is None or not domain.administers(principal, firm.id, firm.admin_user_ids):
        raise NotFound("no such lawyer")
    return row, firm


def index_lawyer(row: LawyerRow, firm: FirmRow) -> None:
    """The lawyer's city and search text, which follow its own profile and its firm's name and city."""
    row.city = firm.city
    row.search_title = search.segment(row.name)
    row.search_body = search.segment(row.specialty, row.bio, " ".join(row.fields), firm.name, firm.city)
