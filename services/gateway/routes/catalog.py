"""Products: anyone may browse; a token, when sent, is verified and forwarded."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import paging_pb2
from services.gateway.deps import ClientsDep, OptionalPrincipal
from services.gateway.schemas.catalog import Category, Product, ProductPage
from services.gateway.schemas.common import next_cursor


def _blank_to_none(value: object) -> object:
    # `?category=` from a form with nothing chosen means "all", not an invalid category.
    return None if value == "" else value


router = APIRouter(tags=["catalog"])


@router.get("/api/v1/products", response_model=ProductPage)
async def list_products(
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    category: Annotated[Category | None, BeforeValidator(_blank_to_none), Query()] = None,
    q: Annotated[str, Query(max_length=200, description="Search over name and description.")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ProductPage:
    reply = await clients.catalog.ListProducts(
        pb.ListProductsRequest(
            category=category or "", query=q, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)
        )
    )
    return ProductPage(
        items=[Product.from_proto(p) for p in reply.products], next_cursor=next_cursor(reply.page)
    )


@router.get("/api/v1/products/{product_id}", response_model=Product)
async def get_product(product_id: str, clients: ClientsDep, _principal: OptionalPrincipal) -> Product:
    reply = await clients.catalog.GetProduct(pb.GetProductRequest(product_id=product_id))
    return Product.from_proto(reply.product)
