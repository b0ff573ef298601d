"""Pages for anyone: home, products (search, detail with the order form), firms, lawyers, articles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from services.portal import i18n
from services.portal.gateway import Gateway, GatewayError, SignedOut
from services.portal.session import Session
from services.portal.web import GatewayDep, SessionDep, render
from services.runtime.vocabulary import ProductCategory, words

router = APIRouter()

CATEGORIES = words(ProductCategory)
# How far ahead a lawyer's next free slot is looked for on the lawyers page.
NEXT_SLOT_HORIZON = timedelta(days=14)


def listing(**filters: str) -> dict[str, Any]:
    """A list's query: the filters given, one page of up to 50."""
    return {"limit": 50, **{name: value for name, value in filters.items() if value}}


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: SessionDep, gateway: GatewayDep) -> HTMLResponse:
    products, articles, suggested = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/products", params={"limit": 6}, signed_in=False),
        gateway.call(session, "GET", "/api/v1/articles", params={"limit": 5}, signed_in=False),
        next_purchases(session, gateway),
    )
    return render(
        request,
        "home.html",
        products=products["items"],
        articles=articles["items"],
        suggested=suggested,
    )


async def next_purchases(session: Session, gateway: Gateway) -> list[tuple[dict[str, Any], list[str]]]:
    """A signed-in client's next purchases (GET /api/v1/recommendations, best first, at most 5), each as the
    product and its reasons (in Chinese); none for anyone else. A product no longer published is left out."""
    if not session.has_role("client", "client_admin"):
        return []
    try:  # the public home page stays open when a login has run out or has no suggestions to read
        await gateway.fresh(session)
        suggestions = (await gateway.call(session, "GET", "/api/v1/recommendations"))["items"]
    except (SignedOut, GatewayError):
        return []

    async def product(product_id: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await gateway.call(
                session, "GET", "/api/v1/products/{id}", path={"id": product_id}, signed_in=False
            )
        except GatewayError:
            return None
        return found

    found = await asyncio.gather(*(product(s["product_id"]) for s in suggestions))
    return [(item, s["reasons"]) for item, s in zip(found, suggestions, strict=True) if item is not None]


@router.get("/products", response_class=HTMLResponse)
async def products(
    request: Request,
    session: SessionDep,
    gateway: GatewayDep,
    q: str = Query("", max_length=100),
    category: str = Query("", max_length=20),
) -> HTMLResponse:
    known_category = category if category in CATEGORIES else ""
    page = await gateway.call(
        session, "GET", "/api/v1/products", params=listing(q=q, category=known_category), signed_in=False
    )
    return render(
        request, "products.html", products=page["items"], q=q, category=category, categories=CATEGORIES
    )


@router.get("/products/{product_id}", response_class=HTMLResponse)
async def product(
    request: Request, product_id: str, session: SessionDep, gateway: GatewayDep
) -> HTMLResponse:
    item = await gateway.call(
        session, "GET", "/api/v1/products/{id}", path={"id": product_id}, signed_in=False
    )
    return render(request, "product.html", product=item, errors={}, answers={})


@router.get("/firms", response_class=HTMLResponse)
async def firms(request: Request, session: SessionDep, gateway: GatewayDep) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/firms", params={"limit": 50}, signed_in=False)
    return render(request, "firms.html", firms=page["items"])


@router.get("/firms/{firm_id}", response_class=HTMLResponse)
async def firm(request: Request, firm_id: str, session: SessionDep, gateway: GatewayDep) -> HTMLResponse:
    item = await gateway.call(session, "GET", "/api/v1/firms/{id}", path={"id": firm_id}, signed_in=False)
    return render(request, "firm.html", firm=item)


@router.get("/lawyers", response_class=HTMLResponse)
async def lawyers(
    request: Request, session: SessionDep, gateway: GatewayDep, field: str = Query("", max_length=30)
) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/lawyers", params=listing(field=field), signed_in=False)
    now = datetime.now(UTC)
    window = {"from": now.isoformat(), "to": (now + NEXT_SLOT_HORIZON).isoformat()}

    async def next_slot(lawyer_id: str) -> str | None:
        try:
            slots = await gateway.call(
                session,
                "GET",
                "/api/v1/lawyers/{id}/availability",
                path={"id": lawyer_id},
                params=window,
                signed_in=False,
            )
        except GatewayError:
            return None
        return slots["items"][0]["start"] if slots["items"] else None

    slots = await asyncio.gather(*(next_slot(lawyer["id"]) for lawyer in page["items"]))
    return render(request, "lawyers.html", lawyers=list(zip(page["items"], slots, strict=True)), field=field)


@router.get("/articles", response_class=HTMLResponse)
async def articles(
    request: Request, session: SessionDep, gateway: GatewayDep, q: str = Query("", max_length=100)
) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/articles", params=listing(q=q), signed_in=False)
    return render(request, "articles.html", articles=page["items"], q=q)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
async def article(
    request: Request, article_id: str, session: SessionDep, gateway: GatewayDep
) -> HTMLResponse:
    item = await gateway.call(
        session, "GET", "/api/v1/articles/{id}", path={"id": article_id}, signed_in=False
    )
    return render(request, "article.html", article=item)


@router.get("/language/{locale}")
async def language(locale: str, request: Request) -> RedirectResponse:
    """Switches the language (a cookie) and goes back to the page the person was on."""
    back = request.headers.get("referer", "/")
    response = RedirectResponse(back if back.startswith(str(request.base_url)) else "/", status_code=303)
    response.set_cookie(
        i18n.LOCALE_COOKIE, i18n.chosen_locale(locale), max_age=365 * 24 * 3600, samesite="lax"
    )
    return response
