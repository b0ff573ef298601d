"""CatalogService over gRPC."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.struct_pb2 import Struct

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogInternalServiceServicer, CatalogServiceServicer
from counsel.common.v1 import money_pb2, paging_pb2
from services.catalog import domain, editorial
from services.catalog.column_rpcs import ColumnRpcs
from services.catalog.firm_events import FirmEvents, parse_cursor
from services.catalog.models import ArticleVersionRow, FirmRow, ProductRow, ReviewRow
from services.catalog.onboarding_rpcs import OnboardingRpcs
from services.catalog.profile_protos import firm_proto, lawyer_proto
from services.catalog.quality_rpcs import QualityRpcs
from services.catalog.store import CatalogStores
from services.catalog.store.articles import ArticleView
from services.catalog.store.lawyers import LawyerFilter
from services.catalog.store.product_versions import ProductVersionView
from services.catalog.store.products import ProductFilter
from services.catalog.workflow_link import QualificationClocks
from services.runtime.context import current_principal
from services.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from services.runtime.records import new_id, page_size, to_timestamp, utcnow
from services.runtime.tenancy import signed_in

TIER_NUMBERS = ("delivery_hours", "revision_days", "acknowledge_minutes", "reply_hours")


def _money(amount: int, currency: str) -> money_pb2.Money:
    return money_pb2.Money(amount=amount, currency=currency)


def _media(item: dict[str, Any]) -> pb.Media:
    media = pb.Media(kind=item.get("kind", ""), url=item.get("url", ""), caption=item.get("caption", ""))
    if item.get("data"):
        data = Struct()
        data.update(item["data"])
        media.data.CopyFrom(data)
    return media


def _tier(item: dict[str, Any], currency: str) -> pb.Tier:
    tier = pb.Tier(
        id=item["id"],
        name=item["name"],
        price=_money(item["price"], currency),
        complexity=item.get("complexity", ""),
    )
    for name in TIER_NUMBERS:
        if item.get(name) is not None:
            setattr(tier, name, int(item[name]))
    return tier


def product_proto(row: ProductRow) -> pb.Product:
    return pb.Product(
        id=row.id,
        category=row.category,
        name=row.name,
        description=row.description,
        media=[_media(m) for m in row.media],
        parameters=row.parameters,
        price=_money(row.price_fen, row.currency),
        tiers=[_tier(t, row.currency) for t in row.tiers],
        process=[pb.ProcessStage(**stage) for stage in row.process],
        rating=pb.Rating(average=row.rating_average, count=row.rating_count),
        requirement_fields=[pb.RequirementField(**field) for field in row.requirement_fields],
        consultation_kind=row.consultation_kind,
        created_at=to_timestamp(row.created_at),
        version=row.version,
    )


def product_version_proto(view: ProductVersionView) -> pb.ProductVersion:
    row = view.version
    return pb.ProductVersion(
        product_id=row.product_id,
        version=row.version,
        status=row.status,
        product=product_proto(view.product),
        author_id=row.author_id,
        reviewer_id=row.reviewer_id,
        review_comment=row.review_comment,
        reviewed_at=to_timestamp(row.reviewed_at),
        created_at=to_timestamp(row.created_at),
    )


def review_proto(row: ReviewRow) -> pb.Review:
    return pb.Review(
        id=row.id,
        order_id=row.order_id,
        product_id=row.product_id,
        lawyer_id=row.lawyer_id,
        rating=row.rating,
        comment=row.comment,
        created_at=to_timestamp(row.created_at),
    )


def _tier_dict(tier: pb.Tier) -> dict[str, Any]:
    item: dict[str, Any] = {"id": tier.id, "name": tier.name, "price": tier.price.amount}
    if tier.complexity:
        item["complexity"] = tier.complexity
    for name in TIER_NUMBERS:
        if tier.HasField(name):  # type: ignore[arg-type]
            item[name] = getattr(tier, name)
    return item


def product_row(product: pb.Product) -> ProductRow:
    """A product from a management request, validated (InvalidArgument naming the field)."""
    currency = product.price.currency or "CNY"
    if currency != "CNY" or any(t.price.currency not in ("", "CNY") for t in product.tiers):
        raise InvalidArgument.for_field("price.currency", "must be CNY")
    media = [
        {
            "kind": m.kind,
            "url": m.url,
            "caption": m.caption,
            **({"data": json_format.MessageToDict(m.data)} if m.HasField("data") else {}),
        }
        for m in product.media
    ]
    process = [{"stage": p.stage, "title": p.title, "description": p.description} for p in product.process]
    fields = [
        {"name": f.name, "label": f.label, "type": f.type, "required": f.required, "choices": list(f.choices)}
        for f in product.requirement_fields
    ]
    domain.validate_product_content(product.id, product.name, product.description, media, process, fields)
    return ProductRow(
        id=product.id,
        category=product.category,
        name=product.name.strip(),
        description=product.description.strip(),
        price_fen=product.price.amount,
        currency=currency,
        media=media,
        parameters=dict(product.parameters),
        tiers=[_tier_dict(t) for t in product.tiers],
        process=process,
        requirement_fields=fields,
        consultation_kind=product.consultation_kind,
        created_at=utcnow(),
    )


def firm_row(firm: pb.Firm) -> FirmRow:
    """A firm profile from a management request, validated (InvalidArgument naming the field)."""
    opening_hours = [{"weekday": h.weekday, "opens": h.opens, "closes": h.closes} for h in firm.opening_hours]
    staff = [{"name": m.name, "role": m.role, "lawyer_id": m.lawyer_id} for m in firm.staff]
    domain.validate_firm(
        firm.name,
        firm.city,
        firm.address,
        firm.location.lat,
        firm.location.lng,
        opening_hours,
        list(firm.transit_routes),
        staff,
    )
    return FirmRow(
        id=firm.id,
        name=firm.name.strip(),
        city=firm.city.strip(),
        address=firm.address.strip(),
        lat=firm.location.lat,
        lng=firm.location.lng,
        phone=firm.phone.strip(),
        description=firm.description.strip(),
        opening_hours=opening_hours,
        transit_routes=[r.strip() for r in firm.transit_routes],
        staff=staff,
        created_at=utcnow(),
    )


def _version_proto(row: ArticleVersionRow) -> pb.ArticleVersion:
    return pb.ArticleVersion(
        version=row.version,
        status=row.status,
        title=row.title,
        body=row.body,
        author_id=row.author_id,
        reviewer_id=row.reviewer_id,
        review_comment=row.review_comment,
        reviewed_at=to_timestamp(row.reviewed_at),
        created_at=to_timestamp(row.created_at),
    )


def article_proto(view: ArticleView) -> pb.Article:
    article = pb.Article(
        id=view.article.id,
        kind=view.article.kind,
        latest=_version_proto(view.latest),
        created_at=to_timestamp(view.article.created_at),
        column_id=view.article.column_id,
        industries=view.article.industries,
    )
    if view.published is not None:
        article.published.CopyFrom(_version_proto(view.published))
    return article


def _profile(profile: pb.LawyerProfile) -> domain.Profile:
    return domain.validate_profile(
        name=profile.name,
        specialty=profile.specialty,
        fields=list(profile.fields),
        service_hours=[{"weekday": w.weekday, "start": w.start, "end": w.end} for w in profile.service_hours],
        service_exceptions=[
            {"date": e.date, "available": e.available, "start": e.start, "end": e.end, "note": e.note}
            for e in profile.service_exceptions
        ],
        years_of_practice=profile.years_of_practice,
        licence_number=profile.licence_number,
        bio=profile.bio,
        user_id=profile.user_id,
        online=profile.online,
    )


class CatalogServicer(
    ColumnRpcs, OnboardingRpcs, QualityRpcs, CatalogServiceServicer, CatalogInternalServiceServicer
):
    def __init__(
        self,
        stores: CatalogStores,
        firm_events: FirmEvents | None = None,
        clocks: QualificationClocks | None = None,
    ) -> None:
        self.stores = stores
        self.firm_events = firm_events or FirmEvents(stores.db)
        self.clocks = clocks

    async def ListProducts(
        self, request: pb.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProductsResponse:
        category, query = domain.validate_listing(request.category, request.query)
        min_price = request.min_price if request.HasField("min_price") else None
        max_price = request.max_price if request.HasField("max_price") else None
        domain.validate_price_range(min_price, max_price)
        rows, next_cursor = await self.stores.products.list_products(
            ProductFilter(category, query, min_price, max_price),
            page_size(request.page.limit),
            request.page.cursor,
        )
        return pb.ListProductsResponse(
            products=[product_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def GetProduct(
        self, request: pb.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProductResponse:
        row, reviews = await self.stores.products.get_product(request.product_id)
        product = product_proto(row)
        product.reviews.extend(review_proto(r) for r in reviews)
        await self._viewed("product", request.product_id)
        return pb.GetProductResponse(product=product)

    async def _viewed(self, kind: str, item_id: str) -> None:
        """Browsing history of signed-in users (R-ACC-3); anonymous views are not recorded."""
        principal = current_principal()
        if principal is not None:
            await self.stores.views.record_view(principal, kind, item_id)

    # --- firms and lawyers ------------------------------------------------------------------------------

    async def ListFirms(
        self, request: pb.ListFirmsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListFirmsResponse:
        rows, next_cursor = await self.stores.firms.list_firms(
            request.city.strip(), page_size(request.page.limit), request.page.cursor
        )
        return pb.ListFirmsResponse(
            firms=[firm_proto(row, current_principal()) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def GetFirm(
        self, request: pb.GetFirmRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetFirmResponse:
        return pb.GetFirmResponse(firm=await self.firm_reply(request.firm_id))

    async def ListLawyers(
        self, request: pb.ListLawyersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLawyersResponse:
        _, query = domain.validate_listing("", request.query)
        filters = LawyerFilter(
            field=domain.validate_field_filter(request.field),
            online=request.online if request.HasField("online") else None,
            city=request.city.strip(),
            firm_id=request.firm_id,
            query=query,
        )
        principal = current_principal()
        rows, next_cursor = await self.stores.lawyers.list_lawyers(
            filters, page_size(request.page.limit), request.page.cursor, principal
        )
        reasons = await self.stores.lawyers.unavailable_reasons(rows)
        return pb.ListLawyersResponse(
            lawyers=[lawyer_proto(row, principal, reasons[row.id]) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def GetLawyer(
        self, request: pb.GetLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLawyerResponse:
        principal = current_principal()
        lawyer = await self.lawyer_reply(
            await self.stores.lawyers.get_lawyer(principal, request.lawyer_id), principal
        )
        await self._viewed("lawyer", request.lawyer_id)
        return pb.GetLawyerResponse(lawyer=lawyer)

    async def CreateLawyer(
        self, request: pb.CreateLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateLawyerResponse:
        principal = domain.require_firm_manager(current_principal())
        profile = _profile(request.profile)
        row = await self.stores.lawyers.create_lawyer(
            principal, request.firm_id, profile, request.idempotency_key
        )
        return pb.CreateLawyerResponse(lawyer=await self.lawyer_reply(row, principal))

    async def UpdateLawyer(
        self, request: pb.UpdateLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateLawyerResponse:
        principal = domain.require_firm_manager(current_principal())
        profile = _profile(request.profile)
        row = await self.stores.lawyers.update_lawyer(principal, request.lawyer_id, profile)
        return pb.UpdateLawyerResponse(lawyer=await self.lawyer_reply(row, principal))

    async def ActivateLawyer(
        self, request: pb.ActivateLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.ActivateLawyerResponse:
        principal = domain.require_firm_manager(current_principal())
        row = await self.stores.lawyers.activate_lawyer(principal, request.lawyer_id)
        return pb.ActivateLawyerResponse(lawyer=await self.lawyer_reply(row, principal))

    async def DeactivateLawyer(
        self, request: pb.DeactivateLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeactivateLawyerResponse:
        principal = domain.require_firm_manager(current_principal())
        row = await self.stores.lawyers.deactivate_lawyer(principal, request.lawyer_id)
        return pb.DeactivateLawyerResponse(lawyer=await self.lawyer_reply(row, principal))

    # --- articles ---------------------------------------------------------------------------------------

    async def CreateArticle(
        self, request: pb.CreateArticleRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateArticleResponse:
        column = await self.stores.columns.get_column(request.column_id) if request.column_id else None
        principal = editorial.require_article_author(current_principal(), column.kind if column else "")
        kind, title, body = editorial.validate_article(request.kind, request.title, request.body)
        industries = editorial.validate_industries(list(request.industries))
        view = await self.stores.articles.create_article(
            principal, kind, title, body, request.idempotency_key, request.column_id, tuple(industries)
        )
        return pb.CreateArticleResponse(article=article_proto(view))

    async def UpdateArticle(
        self, request: pb.UpdateArticleRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateArticleResponse:
        principal = editorial.require_article_editor(current_principal())
        title, body = editorial.validate_article_text(request.title, request.body)
        view = await self.stores.articles.update_article(principal, request.article_id, title, body)
        return pb.UpdateArticleResponse(article=article_proto(view))

    async def SubmitArticle(
        self, request: pb.SubmitArticleRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitArticleResponse:
        principal = editorial.require_article_editor(current_principal())
        view = await self.stores.articles.submit_article(principal, request.article_id)
        return pb.SubmitArticleResponse(article=article_proto(view))

    async def ReviewArticle(
        self, request: pb.ReviewArticleRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReviewArticleResponse:
        principal = editorial.require_reviewer(current_principal())
        view = await self.stores.articles.review_article(
            principal, request.article_id, request.decision, request.comment
        )
        return pb.ReviewArticleResponse(article=article_proto(view))

    async def ListArticles(
        self, request: pb.ListArticlesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListArticlesResponse:
        kind = editorial.validate_article_kind_filter(request.kind)
        _, query = domain.validate_listing("", request.query)
        limit = page_size(request.page.limit)
        if request.status:
            principal = signed_in(current_principal(), "list unpublished articles")
            if not principal.has_role("editor", "reviewer"):
                raise PermissionDenied("only editors and reviewers list unpublished articles")
            if request.status not in ("draft", "submitted", "rejected"):
                raise InvalidArgument.for_field("status", "must be one of draft, submitted, rejected")
            views, next_cursor = await self.stores.articles.list_articles_by_status(
                request.status, kind, limit, request.page.cursor
            )
        else:
            views, next_cursor = await self.stores.articles.list_published_articles(
                kind, query, limit, request.page.cursor, request.column_id
            )
        return pb.ListArticlesResponse(
            articles=[article_proto(view) for view in views],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def GetArticle(
        self, request: pb.GetArticleRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetArticleResponse:
        article = article_proto(await self.stores.articles.get_published_article(request.article_id))
        await self._viewed("article", request.article_id)
        return pb.GetArticleResponse(article=article)

    # --- next purchases (§5.5, R-Q-2) ---------------------------------------------------------------------

    async def GetRecommendations(
        self, request: pb.GetRecommendationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRecommendationsResponse:
        principal = signed_in(current_principal(), "see recommendations")
        enterprise_id, suggestions = await self.stores.histories.for_principal(
            principal, request.enterprise_id, request.client_id
        )
        return pb.GetRecommendationsResponse(
            enterprise_id=enterprise_id,
            items=[
                pb.Recommendation(product_id=s.product_id, score=s.score, reasons=s.reasons)
                for s in suggestions
            ],
        )

    # --- reviews ----------------------------------------------------------------------------------------

    async def ExportCatalogData(
        self, request: pb.ExportCatalogDataRequest, context: grpc.aio.ServicerContext
    ) -> pb.ExportCatalogDataResponse:
        principal = signed_in(current_principal(), "export your data")
        reviews = await self.stores.reviews.written_by(principal.user_id)
        return pb.ExportCatalogDataResponse(reviews=[review_proto(row) for row in reviews])

    async def CreateReview(
        self, request: pb.CreateReviewRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateReviewResponse:
        principal = domain.require_client(current_principal())
        comment = domain.validate_review(request.rating, request.comment)
        review = await self.stores.reviews.create_review(principal, request.order_id, request.rating, comment)
        return pb.CreateReviewResponse(review=review_proto(review))

    # --- management -------------------------------------------------------------------------------------

    async def UpsertProduct(
        self, request: pb.UpsertProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertProductResponse:
        principal = domain.require_role(current_principal(), "editor", "manage products")
        view = await self.stores.product_versions.update_product(principal, product_row(request.product))
        draft = product_version_proto(view)
        return pb.UpsertProductResponse(product=draft.product, draft=draft)

    async def CreateProduct(
        self, request: pb.CreateProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProductResponse:
        principal = domain.require_role(current_principal(), "editor", "manage products")
        product = pb.Product()
        product.CopyFrom(request.product)
        product.id = product.id or new_id()
        view = await self.stores.product_versions.create_product(principal, product_row(product))
        return pb.CreateProductResponse(draft=product_version_proto(view))

    async def SubmitProduct(
        self, request: pb.SubmitProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitProductResponse:
        principal = domain.require_role(current_principal(), "editor", "manage products")
        view = await self.stores.product_versions.submit_product(principal, request.product_id)
        return pb.SubmitProductResponse(version=product_version_proto(view))

    async def ReviewProduct(
        self, request: pb.ReviewProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReviewProductResponse:
        principal = domain.require_role(current_principal(), "reviewer", "review products")
        view = await self.stores.product_versions.review_product(
            principal, request.product_id, request.decision, request.comment
        )
        return pb.ReviewProductResponse(version=product_version_proto(view))

    async def ListProductVersions(
        self, request: pb.ListProductVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProductVersionsResponse:
        principal = signed_in(current_principal(), "list product versions")
        if not principal.has_role("editor", "reviewer"):
            raise PermissionDenied("only editors and reviewers list product versions")
        if request.status and request.status not in editorial.VERSION_STATUSES:
            raise InvalidArgument.for_field(
                "status", f"must be one of {', '.join(editorial.VERSION_STATUSES)}"
            )
        views, next_cursor = await self.stores.product_versions.list_versions(
            request.status, request.product_id, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListProductVersionsResponse(
            versions=[product_version_proto(view) for view in views],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def UpdateFirm(
        self, request: pb.UpdateFirmRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateFirmResponse:
        principal = domain.require_firm_manager(current_principal())
        row = firm_row(request.firm)
        return pb.UpdateFirmResponse(
            firm=firm_proto(await self.stores.firms.update_firm(principal, row), principal)
        )

    async def WatchFirmEvents(
        self, request: pb.WatchFirmEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchFirmEventsResponse]:
        principal = domain.require_firm_manager(current_principal())
        firm_id = request.firm_id or principal.firm_id
        after = parse_cursor(request.after_cursor)
        if not await self.stores.firms.administers(principal, firm_id):
            raise NotFound("no such firm")  # another firm's existence is not revealed
        async for row in self.firm_events.follow(firm_id, after):
            yield pb.WatchFirmEventsResponse(
                cursor=str(row.id),
                type=row.type,
                occurred_at=to_timestamp(row.occurred_at),
                object_type=row.object_type,
                object_id=row.object_id,
                lawyer_user_id=row.lawyer_user_id,
                lawyer_id=row.lawyer_id,
            )

    async def GetOwnLawyer(
        self, request: pb.GetOwnLawyerRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetOwnLawyerResponse:
        principal = domain.require_role(current_principal(), "lawyer", "read your lawyer profile")
        row = await self.stores.lawyers.own_lawyer(principal)
        if row is None:
            return pb.GetOwnLawyerResponse()
        return pb.GetOwnLawyerResponse(lawyer=await self.lawyer_reply(row, principal))

    async def SetLawyerOnline(
        self, request: pb.SetLawyerOnlineRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetLawyerOnlineResponse:
        principal = domain.require_role(current_principal(), "lawyer", "go online")
        row = await self.stores.lawyers.set_online(principal, request.online)
        return pb.SetLawyerOnlineResponse(lawyer=await self.lawyer_reply(row, principal))
