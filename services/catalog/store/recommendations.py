"""Next purchases (§5.5, R-Q-2) in near real time: each enterprise's history, kept from the events of the
services that see it act (the `next-purchase` consumer), and the committed model's suggestions over it
(services/next_purchase), limited to the products on sale and scoped to one enterprise.

Why catalog: the suggestions are products, and catalog owns them (what is on sale, their names), already
folds payment's and the fulfilling services' events into its order records and publishes the product
views itself; a service of its own would add a database and a process for one read."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from counsel.catalog.v1 import events_pb2
from counsel.common.v1.event_pb2 import EventEnvelope
from services.catalog import domain
from services.catalog.models import EnterpriseSignalRow, ProductRow, SuggestionPassRow, SuggestionRow
from services.next_purchase.evidence import YEAR_DAYS, next_purchase_features
from services.next_purchase.histories import Event
from services.next_purchase.recommender import Recommendation
from services.next_purchase.training import next_purchase_model
from services.runtime.context import Principal
from services.runtime.db import Database
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.events import Outbox, occurred_at
from services.runtime.records import utcnow

# Staff who may see a client enterprise's suggestions, for a follow-up.
STAFF_ROLES = ("agent", "supervisor")
# A suggestion is sent (opt-in marketing, through notification's policy) when the best product is at least
# this likely and the enterprise's own evidence made it this many times likelier than for anyone (what
# every enterprise buys is no news), once per product within the period.
SUGGEST_MIN_SCORE = 0.4
SUGGEST_MIN_LIFT = 2.0
SUGGEST_AGAIN_AFTER = timedelta(days=30)
# Each pass reads the enterprise's year of signals and every product on sale: at most one per enterprise in
# this interval, however many events come (catalog/domain.suggestion_pass_due).
SUGGEST_PASS_EVERY = timedelta(minutes=1)
_SECONDS_PER_DAY = 86_400.0


def _days(moment: datetime) -> float:
    return moment.timestamp() / _SECONDS_PER_DAY


def chinese_name(name: str) -> str:
    """A product's Chinese name: the catalog's names are "<Chinese> <English>"."""
    return name.split(" ", 1)[0]


class EnterpriseHistories:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    @staticmethod
    async def record(
        session: AsyncSession,
        envelope: EventEnvelope,
        kind: str,
        subject: str = "",
        *,
        user_id: str = "",
        reference: str = "",
        stars: int = 0,
    ) -> None:
        """Keep one event of an enterprise's history, in the consumer's transaction; an event outside any
        enterprise (a person on their own) has no enterprise history and is skipped."""
        if not envelope.tenant_id:
            return
        table = EnterpriseSignalRow.__table__  # type: ignore[attr-defined]
        await session.execute(
            pg_insert(table)
            .values(
                event_id=envelope.id,
                tenant_id=envelope.tenant_id,
                user_id=user_id,
                kind=kind,
                subject=subject,
                reference=reference,
                stars=stars,
                occurred_at=occurred_at(envelope),
            )
            .on_conflict_do_nothing()
        )

    @staticmethod
    async def ordered_product(session: AsyncSession, order_id: str) -> str:
        """The product of an order whose creation was recorded ("" when it was not)."""
        statement = select(EnterpriseSignalRow.subject).where(
            EnterpriseSignalRow.reference == order_id, EnterpriseSignalRow.kind == "order_created"
        )
        return (await session.exec(statement)).first() or ""

    async def for_principal(
        self, principal: Principal, enterprise_id: str, client_id: str
    ) -> tuple[str, list[Recommendation]]:
        """(enterprise, its next purchases): a client's own enterprise (asking for another is NotFound);
        agents and supervisors name the enterprise, or a client whose last enterprise is meant."""
        if principal.is_client:
            if not principal.tenant_id or enterprise_id not in ("", principal.tenant_id) or client_id:
                raise NotFound("no such enterprise")
            enterprise_id = principal.tenant_id
        elif not principal.has_role(*STAFF_ROLES):
            raise NotFound("no such enterprise")
        async with self.db.transaction() as session:
            if not enterprise_id:
                if not client_id:
                    raise InvalidArgument.for_field("enterprise_id", "name the enterprise or the client")
                enterprise_id = await _enterprise_of(session, client_id)
            return enterprise_id, await recommend(session, enterprise_id, utcnow())

    async def suggest(self, session: AsyncSession, tenant_id: str, now: datetime) -> None:
        """After an enterprise's history grew (in the consumer's transaction): a suggestion pass now, unless
        one ran for the enterprise within SUGGEST_PASS_EVERY — then one is owed at the end of that interval
        and `run_due_passes` runs it, so a burst of events (product views) costs one pass a minute and its
        last event is still considered."""
        if not tenant_id:
            return
        await session.execute(
            pg_insert(SuggestionPassRow.__table__)  # type: ignore[attr-defined]
            .values(tenant_id=tenant_id)
            .on_conflict_do_nothing()
        )
        passes = await session.get(SuggestionPassRow, tenant_id, with_for_update=True)
        assert passes is not None  # inserted above, or there already
        passes.due_at = domain.suggestion_pass_due(passes.passed_at, passes.due_at, now, SUGGEST_PASS_EVERY)
        if passes.due_at is None:
            await self._suggestion_pass(session, passes, now)
        session.add(passes)

    async def run_due_passes(self, now: datetime, limit: int = 100) -> int:
        """Run the owed passes whose time has come (at most `limit`, soonest first); how many ran. Processes
        share them: a pass another process holds is skipped."""
        async with self.db.transaction() as session:
            owed = (
                await session.exec(
                    select(SuggestionPassRow)
                    .where(col(SuggestionPassRow.due_at) <= now)
                    .order_by(col(SuggestionPassRow.due_at))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for passes in owed:
                passes.due_at = None
                await self._suggestion_pass(session, passes, now)
                session.add(passes)
        return len(owed)

    async def _suggestion_pass(self, session: AsyncSession, passes: SuggestionPassRow, now: datetime) -> None:
        """When the enterprise's best next product is likely and backed by its own evidence, and not
        suggested lately, publish `recommendation.suggested` to the member who acted last (notification
        sends it as marketing: only with consent, outside quiet hours, within rate limits)."""
        passes.passed_at = now
        tenant_id = passes.tenant_id
        features = await _features(session, tenant_id, now)
        on_sale = await _names_on_sale(session)
        model = next_purchase_model()
        best = next(iter(model.recommend(features, on_sale, among=on_sale, limit=1)), None)
        if (
            best is None
            or best.score < SUGGEST_MIN_SCORE
            or model.lift(features, best.product_id) < SUGGEST_MIN_LIFT
        ):
            return
        last = await session.get(SuggestionRow, (tenant_id, best.product_id), with_for_update=True)
        if last is not None and now - last.suggested_at < SUGGEST_AGAIN_AFTER:
            return
        member = (
            await session.exec(
                select(EnterpriseSignalRow.user_id)
                .where(EnterpriseSignalRow.tenant_id == tenant_id, EnterpriseSignalRow.user_id != "")
                .order_by(col(EnterpriseSignalRow.occurred_at).desc())
                .limit(1)
            )
        ).first()
        if not member:
            return
        session.add(SuggestionRow(tenant_id=tenant_id, product_id=best.product_id, suggested_at=now))
        await self.outbox.add(
            session,
            "recommendation.suggested",
            events_pb2.RecommendationSuggested(
                client_id=member,
                product_id=best.product_id,
                product_name=on_sale[best.product_id],
                reason=best.reasons[0],
                score=best.score,
            ),
            aggregate_id=best.product_id,
            tenant_id=tenant_id,
        )


async def _enterprise_of(session: AsyncSession, client_id: str) -> str:
    statement = (
        select(EnterpriseSignalRow.tenant_id)
        .where(EnterpriseSignalRow.user_id == client_id)
        .order_by(col(EnterpriseSignalRow.occurred_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first() or ""


async def _features(session: AsyncSession, tenant_id: str, now: datetime) -> dict[str, float]:
    """What the enterprise's last year says (`evidence.next_purchase_features`)."""
    rows = (
        await session.exec(
            select(EnterpriseSignalRow)
            .where(EnterpriseSignalRow.tenant_id == tenant_id)
            .where(col(EnterpriseSignalRow.occurred_at) >= now - timedelta(days=YEAR_DAYS))
        )
    ).all()
    events = [Event(_days(r.occurred_at), r.kind, r.subject, r.stars) for r in rows]
    return next_purchase_features(events, _days(now))


async def _names_on_sale(session: AsyncSession) -> dict[str, str]:
    """The published products' Chinese names, by id."""
    rows = (
        await session.exec(select(ProductRow.id, ProductRow.name).where(col(ProductRow.published).is_(True)))
    ).all()
    return {product_id: chinese_name(name) for product_id, name in rows}


async def recommend(session: AsyncSession, tenant_id: str, now: datetime) -> list[Recommendation]:
    """The enterprise's next purchases among the published products, best first (none for no enterprise)."""
    if not tenant_id:
        return []
    names = await _names_on_sale(session)
    features = await _features(session, tenant_id, now)
    return next_purchase_model().recommend(features, names, among=names)
