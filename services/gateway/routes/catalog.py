"""Products, firms and lawyers: anyone may browse (a token, when sent, is verified and forwarded, so staff
see licence numbers); firm admins manage their own firm's lawyers. The catalog service checks roles and
firm scoping again."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Query, Request, Response, status
from pydantic import BeforeValidator

from counsel.catalog.v1 import catalog_service_pb2 as pb
from counsel.common.v1 import paging_pb2
from services.gateway.caching import cached, conditional, invalidate_public_reads
from services.gateway.deps import ClientsDep, OptionalPrincipal, require_roles
from services.gateway.routing import api_router
from services.gateway.schemas.catalog import (
    CreateReview,
    Firm,
    FirmInput,
    FirmPage,
    Lawyer,
    LawyerPage,
    LawyerProfile,
    NewProduct,
    OnlineStatus,
    Product,
    ProductInput,
    ProductPage,
    ProductVersion,
    ProductVersionPage,
    Review,
    ReviewDecision,
)
from services.gateway.schemas.common import INT32_MAX, Category, LegalField, next_cursor


def _blank_to_none(value: object) -> object:
    # `?category=` from a form with nothing chosen means "all", not an invalid category.
    return None if value == "" else value


router = api_router("catalog")


@router.get("/api/v1/products", response_model=ProductPage)
async def list_products(
    request: Request,
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    category: Annotated[Category | None, BeforeValidator(_blank_to_none), Query()] = None,
    q: Annotated[
        str, Query(max_length=100, description="Chinese or English search over name and description.")
    ] = "",
    min_price: Annotated[
        int | None, Query(ge=0, le=INT32_MAX, description="Lowest base price in fen.")
    ] = None,
    max_price: Annotated[
        int | None, Query(ge=0, le=INT32_MAX, description="Highest base price in fen.")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    listing = pb.ListProductsRequest(
        category=category or "", query=q, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor)
    )
    if min_price is not None:
        listing.min_price = min_price
    if max_price is not None:
        listing.max_price = max_price
    reply = await clients.catalog.ListProducts(listing)
    return conditional(
        request,
        ProductPage(
            items=[Product.from_proto(p) for p in reply.products], next_cursor=next_cursor(reply.page)
        ),
    )


@router.get("/api/v1/products/{product_id}", response_model=Product)
async def get_product(
    request: Request, product_id: str, clients: ClientsDep, _principal: OptionalPrincipal
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.GetProduct(pb.GetProductRequest(product_id=product_id))
    return conditional(request, Product.from_proto(reply.product))


@router.get("/api/v1/firms", response_model=FirmPage)
async def list_firms(
    request: Request,
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    city: Annotated[str, Query(max_length=50, description="e.g. 北京")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.ListFirms(
        pb.ListFirmsRequest(city=city, page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor))
    )
    return conditional(
        request,
        FirmPage(items=[Firm.from_proto(f) for f in reply.firms], next_cursor=next_cursor(reply.page)),
    )


@router.get("/api/v1/firms/{firm_id}", response_model=Firm)
async def get_firm(
    request: Request, firm_id: str, clients: ClientsDep, _principal: OptionalPrincipal
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.GetFirm(pb.GetFirmRequest(firm_id=firm_id))
    return conditional(request, Firm.from_proto(reply.firm))


@router.get("/api/v1/lawyers", response_model=LawyerPage)
async def list_lawyers(
    request: Request,
    clients: ClientsDep,
    _principal: OptionalPrincipal,
    field: Annotated[LegalField | None, BeforeValidator(_blank_to_none), Query()] = None,
    online: Annotated[
        bool | None,
        BeforeValidator(_blank_to_none),
        Query(description="true: online lawyers only; false: offline only; empty for both."),
    ] = None,
    city: Annotated[str, Query(max_length=50)] = "",
    firm_id: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=100, description="Chinese or English search.")] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    listing = pb.ListLawyersRequest(
        field=field or "",
        city=city,
        firm_id=firm_id,
        query=q,
        page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor),
    )
    if online is not None:
        listing.online = online
    reply = await clients.catalog.ListLawyers(listing)
    return conditional(
        request,
        LawyerPage(items=[Lawyer.from_proto(x) for x in reply.lawyers], next_cursor=next_cursor(reply.page)),
    )


@router.get("/api/v1/lawyers/{lawyer_id}", response_model=Lawyer)
async def get_lawyer(
    request: Request, lawyer_id: str, clients: ClientsDep, _principal: OptionalPrincipal
) -> Response:
    if (hit := cached(request)) is not None:
        return hit
    reply = await clients.catalog.GetLawyer(pb.GetLawyerRequest(lawyer_id=lawyer_id))
    return conditional(request, Lawyer.from_proto(reply.lawyer))


FirmAdmin = Depends(require_roles("firm_admin"))


@router.post(
    "/api/v1/firms/{firm_id}/lawyers",
    response_model=Lawyer,
    status_code=status.HTTP_201_CREATED,
    dependencies=[FirmAdmin],
)
async def create_lawyer(
    request: Request,
    firm_id: str,
    body: LawyerProfile,
    clients: ClientsDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> Lawyer:
    """A firm admin adds an (inactive) lawyer to their own firm; another firm is 404."""
    reply = await clients.catalog.CreateLawyer(
        pb.CreateLawyerRequest(
            firm_id=firm_id, profile=body.to_proto(), idempotency_key=idempotency_key or ""
        )
    )
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)


@router.put("/api/v1/lawyers/{lawyer_id}", response_model=Lawyer, dependencies=[FirmAdmin])
async def update_lawyer(request: Request, lawyer_id: str, body: LawyerProfile, clients: ClientsDep) -> Lawyer:
    """A firm admin replaces the profile of one of their firm's lawyers; another firm's lawyer is 404."""
    reply = await clients.catalog.UpdateLawyer(
        pb.UpdateLawyerRequest(lawyer_id=lawyer_id, profile=body.to_proto())
    )
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)


@router.post("/api/v1/lawyers/{lawyer_id}/activate", response_model=Lawyer, dependencies=[FirmAdmin])
async def activate_lawyer(request: Request, lawyer_id: str, clients: ClientsDep) -> Lawyer:
    """Needs a licence number and at least 2 years of practice (§4.2.1); otherwise 422 naming the field."""
    reply = await clients.catalog.ActivateLawyer(pb.ActivateLawyerRequest(lawyer_id=lawyer_id))
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)


@router.post("/api/v1/lawyers/{lawyer_id}/deactivate", response_model=Lawyer, dependencies=[FirmAdmin])
async def deactivate_lawyer(request: Request, lawyer_id: str, clients: ClientsDep) -> Lawyer:
    """Unlists the lawyer and stops new assignments to them (consultation follows `lawyer.changed`)."""
    reply = await clients.catalog.DeactivateLawyer(pb.DeactivateLawyerRequest(lawyer_id=lawyer_id))
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)


@router.post(
    "/api/v1/reviews",
    response_model=Review,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(require_roles("client", "client_admin"))],
)
async def create_review(request: Request, body: CreateReview, clients: ClientsDep) -> Review:
    """The client who bought a completed order rates it, once (R-Q-1); 409 before completion or for a
    second, different review; 404 for an order that is not the caller's."""
    reply = await clients.catalog.CreateReview(
        pb.CreateReviewRequest(order_id=body.order_id, rating=body.rating, comment=body.comment)
    )
    invalidate_public_reads(request)
    return Review.from_proto(reply.review)


Editor = Depends(require_roles("editor"))


@router.post(
    "/api/v1/products",
    response_model=ProductVersion,
    status_code=status.HTTP_201_CREATED,
    dependencies=[Editor],
)
async def create_product(body: NewProduct, clients: ClientsDep) -> ProductVersion:
    """An editor drafts a new product (version 1); it is public only once a reviewer approves it (§9.5).
    409 for an id in use; tier rules are checked (422 naming the tier field)."""
    reply = await clients.catalog.CreateProduct(pb.CreateProductRequest(product=body.to_proto(body.id or "")))
    return ProductVersion.from_version(reply.draft)


@router.put("/api/v1/products/{product_id}", response_model=ProductVersion, dependencies=[Editor])
async def put_product(product_id: str, body: ProductInput, clients: ClientsDep) -> ProductVersion:
    """An editor writes a change (or a new product) as a draft version; the public product stays the last
    approved version until a reviewer approves this one. 409 while a version is under review; tier rules
    are checked (422 naming the tier field)."""
    reply = await clients.catalog.UpsertProduct(pb.UpsertProductRequest(product=body.to_proto(product_id)))
    return ProductVersion.from_version(reply.draft)


@router.post("/api/v1/products/{product_id}/submit", response_model=ProductVersion, dependencies=[Editor])
async def submit_product(product_id: str, clients: ClientsDep) -> ProductVersion:
    """Submits the latest version for review; 409 unless it is a draft or a rejected version."""
    reply = await clients.catalog.SubmitProduct(pb.SubmitProductRequest(product_id=product_id))
    return ProductVersion.from_version(reply.version)


@router.post(
    "/api/v1/products/{product_id}/review",
    response_model=ProductVersion,
    dependencies=[Depends(require_roles("reviewer"))],
)
async def review_product(
    request: Request, product_id: str, body: ReviewDecision, clients: ClientsDep
) -> ProductVersion:
    """Approve (the version becomes the public product and what new orders buy) or reject (with a
    comment); 409 unless the latest version is submitted, 403 for the version's own author."""
    reply = await clients.catalog.ReviewProduct(
        pb.ReviewProductRequest(product_id=product_id, decision=body.decision, comment=body.comment)
    )
    invalidate_public_reads(request)
    return ProductVersion.from_version(reply.version)


@router.get(
    "/api/v1/product-versions",
    response_model=ProductVersionPage,
    dependencies=[Depends(require_roles("editor", "reviewer"))],
)
async def list_product_versions(
    clients: ClientsDep,
    status_: Annotated[
        Literal["draft", "submitted", "approved", "rejected"] | None,
        BeforeValidator(_blank_to_none),
        Query(alias="status", description="submitted: the reviewers' queue."),
    ] = None,
    product_id: Annotated[
        str, Query(max_length=100, description="One product's versions, newest first.")
    ] = "",
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str, Query(max_length=1000)] = "",
) -> ProductVersionPage:
    """Editors and reviewers: product versions by status, least recently changed first, or one product's."""
    reply = await clients.catalog.ListProductVersions(
        pb.ListProductVersionsRequest(
            status=status_ or "",
            product_id=product_id,
            page=paging_pb2.PageRequest(limit=limit or 0, cursor=cursor),
        )
    )
    return ProductVersionPage(
        items=[ProductVersion.from_version(v) for v in reply.versions], next_cursor=next_cursor(reply.page)
    )


@router.put("/api/v1/firms/{firm_id}", response_model=Firm, dependencies=[FirmAdmin])
async def put_firm(request: Request, firm_id: str, body: FirmInput, clients: ClientsDep) -> Firm:
    """A firm admin replaces their own firm's public profile; another firm is 404."""
    reply = await clients.catalog.UpdateFirm(pb.UpdateFirmRequest(firm=body.to_proto(firm_id)))
    invalidate_public_reads(request)
    return Firm.from_proto(reply.firm)


@router.put(
    "/api/v1/lawyer/status",
    response_model=Lawyer,
    dependencies=[Depends(require_roles("lawyer"))],
)
async def put_lawyer_status(request: Request, body: OnlineStatus, clients: ClientsDep) -> Lawyer:
    """The calling lawyer goes online or offline (R-BK-3: clients see online lawyers)."""
    reply = await clients.catalog.SetLawyerOnline(pb.SetLawyerOnlineRequest(online=body.online))
    invalidate_public_reads(request)
    return Lawyer.from_proto(reply.lawyer)
