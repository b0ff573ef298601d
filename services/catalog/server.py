"""CatalogService over gRPC."""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf.struct_pb2 import Struct

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.catalog.v1.catalog_service_pb2_grpc import CatalogServiceServicer
from counsel.common.v1 import money_pb2, paging_pb2
from services.catalog import domain
from services.catalog.models import ProductRow
from services.catalog.store import CatalogStore
from services.runtime.records import page_size, to_timestamp

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
    )


class CatalogServicer(CatalogServiceServicer):
    def __init__(self, store: CatalogStore) -> None:
        self.store = store

    async def ListProducts(
        self, request: pb.ListProductsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProductsResponse:
        category, query = domain.validate_listing(request.category, request.query)
        rows, next_cursor = await self.store.list_products(
            category, query, page_size(request.page.limit), request.page.cursor
        )
        return pb.ListProductsResponse(
            products=[product_proto(row) for row in rows],
            page=paging_pb2.PageResponse(next_cursor=next_cursor),
        )

    async def GetProduct(
        self, request: pb.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProductResponse:
        return pb.GetProductResponse(product=product_proto(await self.store.get_product(request.product_id)))
