"""A client's pages: ordering a product (the form generated from its requirement_fields), paying, my services
with each order's live timeline, and a document order (download, revisions, acceptance). Staff open the same
document order page with their own actions (documents.py)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import segno
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.portal.config import PortalSettings
from services.portal.gateway import Gateway, GatewayError
from services.portal.session import Session
from services.portal.web import (
    FormDep,
    GatewayDep,
    SessionDep,
    SettingsDep,
    UserDep,
    form_text,
    redirect,
    relay,
    render,
)

router = APIRouter()

PAYMENT_METHODS = ("alipay", "wechat")


def requirement_answers(fields: list[dict[str, Any]], form: Any) -> dict[str, Any]:
    """The form's answers as the API takes them: a list is one item per line, a number a number when it
    reads as one (otherwise the text, which the service refuses naming the field)."""
    answers: dict[str, Any] = {}
    for field in fields:
        raw = form.get(f"req_{field['name']}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        if field["type"] == "list":
            answers[field["name"]] = [line.strip() for line in text.splitlines() if line.strip()]
        elif field["type"] == "number":
            try:
                answers[field["name"]] = int(text)
            except ValueError:
                try:
                    answers[field["name"]] = float(text)
                except ValueError:
                    answers[field["name"]] = text
        else:
            answers[field["name"]] = text
    return answers


@router.post("/orders", response_class=HTMLResponse)
async def order(request: Request, form: FormDep, session: UserDep, gateway: GatewayDep) -> Response:
    product_id = str(form.get("product_id") or "")
    product = await gateway.call(
        session, "GET", "/api/v1/products/{id}", path={"id": product_id}, signed_in=False
    )
    answers = requirement_answers(product["requirement_fields"], form)
    body: dict[str, Any] = {"product_id": product_id, "requirements": answers}
    if form.get("tier"):
        body["tier"] = str(form.get("tier"))
    try:
        created = await gateway.call(
            session,
            "POST",
            "/api/v1/orders",
            json=body,
            # The form's own key: sending it twice (a double click, a reload) makes one order.
            headers={"Idempotency-Key": str(form.get("idempotency_key") or uuid.uuid4())},
        )
    except GatewayError as exc:
        errors = {name.removeprefix("requirements."): message for name, message in exc.errors.items()}
        return render(
            request,
            "product.html",
            422,
            product=product,
            errors=errors,
            error=exc,
            answers={f["name"]: form.get(f"req_{f['name']}") or "" for f in product["requirement_fields"]},
        )
    return redirect(f"/my/orders/{created['id']}")


@router.get("/my")
async def my(session: UserDep) -> Response:
    staff = ("agent", "lawyer", "reviewer", "editor", "supervisor", "firm_admin", "operator")
    return redirect("/work" if session.has_role(*staff) else "/my/orders")


@router.get("/my/orders", response_class=HTMLResponse)
async def my_orders(request: Request, session: UserDep, gateway: GatewayDep) -> HTMLResponse:
    page = await gateway.call(session, "GET", "/api/v1/orders", params={"limit": 50})
    return render(request, "orders.html", orders=page["items"])


def _methods(settings: PortalSettings) -> tuple[str, ...]:
    """Sandbox payments exist in dev and test only; elsewhere the providers'."""
    return ("sandbox",) if settings.dev_routes else PAYMENT_METHODS


@router.get("/my/orders/{order_id}", response_class=HTMLResponse)
async def my_order(
    request: Request, order_id: str, session: UserDep, gateway: GatewayDep, settings: SettingsDep
) -> HTMLResponse:
    return await _order_page(request, "order.html", order_id, session, gateway, settings)


@router.get("/my/orders/{order_id}/live", response_class=HTMLResponse)
async def my_order_live(
    request: Request, order_id: str, session: UserDep, gateway: GatewayDep, settings: SettingsDep
) -> HTMLResponse:
    """The order's changing part alone (status, payment, timeline), for the page's script to refresh in place."""
    return await _order_page(request, "order_live.html", order_id, session, gateway, settings)


async def _order_page(
    request: Request,
    template: str,
    order_id: str,
    session: Session,
    gateway: Gateway,
    settings: PortalSettings,
) -> HTMLResponse:
    # One round of calls: the page's render time is the slowest of them, not their sum.
    item, timeline, voucher = await asyncio.gather(
        gateway.call(session, "GET", "/api/v1/orders/{id}", path={"id": order_id}),
        gateway.call(session, "GET", "/api/v1/orders/{id}/timeline", path={"id": order_id}),
        _voucher(session, gateway, order_id),
    )
    consultation_kind = await _consultation_to_submit(session, gateway, item)
    return render(
        request,
        template,
        order=item,
        timeline=timeline,
        methods=_methods(settings),
        voucher=voucher,
        consultation_kind=consultation_kind,
    )


async def _voucher(session: Session, gateway: Gateway, order_id: str) -> dict[str, Any] | None:
    """The order's voucher (with its QR code) once payment has issued it; None before (or never: unpaid)."""
    try:
        voucher: dict[str, Any] = await gateway.call(
            session, "GET", "/api/v1/orders/{id}/voucher", path={"id": order_id}
        )
    except GatewayError:
        return None  # not issued yet: the page's next refresh shows it
    return voucher


async def _consultation_to_submit(session: Session, gateway: Gateway, order: dict[str, Any]) -> str:
    """The consultation kind a paid consultation order still serves ("" when none): its form is shown."""
    if (
        order["status"] not in ("paid", "in_service")
        or order["category"] != "consultation"
        or order["fulfilment"]
    ):
        return ""
    product = await gateway.call(
        session, "GET", "/api/v1/products/{id}", path={"id": order["product_id"]}, signed_in=False
    )
    return str(product.get("consultation_kind") or "")


@router.get("/my/orders/{order_id}/invoice")
async def invoice(order_id: str, session: UserDep, gateway: GatewayDep) -> Response:
    return relay(await gateway.download(session, "/api/v1/orders/{id}/invoice", {"id": order_id}))


@router.post("/my/orders/{order_id}/consultation", response_class=HTMLResponse)
async def consult(
    request: Request,
    order_id: str,
    form: FormDep,
    session: UserDep,
    gateway: GatewayDep,
    settings: SettingsDep,
) -> Response:
    """Submits the consultation a paid consultation order serves (professional or phone)."""
    body = {
        "kind": form_text(form, "kind"),
        "subject": form_text(form, "subject"),
        "question": form_text(form, "question"),
        "order_id": order_id,
    }
    try:
        created = await gateway.call(session, "POST", "/api/v1/consultations", json=body)
    except GatewayError as exc:
        response = await _order_page(request, "order.html", order_id, session, gateway, settings)
        response.status_code = exc.status
        return response
    return redirect(f"/consultations/{created['id']}")


@router.post("/my/orders/{order_id}/pay", response_class=HTMLResponse)
async def pay(
    request: Request,
    order_id: str,
    form: FormDep,
    session: UserDep,
    gateway: GatewayDep,
    settings: SettingsDep,
) -> Response:
    method = str(form.get("method") or "")
    if method not in _methods(settings):
        raise HTTPException(422)
    payment = await gateway.call(
        session,
        "POST",
        "/api/v1/orders/{id}/payments",
        path={"id": order_id},
        json={"method": method},
        headers={"Idempotency-Key": str(form.get("idempotency_key") or uuid.uuid4())},
    )
    if method != "sandbox" and payment.get("pay_url"):
        return redirect(payment["pay_url"])
    qr = None
    if payment.get("qr_code"):
        svg = segno.make(payment["qr_code"]).svg_inline(scale=4)
        qr = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return render(request, "pay.html", order_id=order_id, payment=payment, qr=qr, sandbox=method == "sandbox")


@router.post("/my/orders/{order_id}/sandbox/{payment_id}")
async def sandbox_pay(
    order_id: str,
    payment_id: str,
    form: FormDep,
    session: SessionDep,
    gateway: GatewayDep,
    settings: SettingsDep,
) -> Response:
    """Dev and test only: the sandbox provider's customer pays (its signed notification follows)."""
    if not settings.dev_routes:
        raise HTTPException(404)
    await gateway.call(
        session, "POST", "/api/v1/dev/sandbox-pay/{id}", path={"id": payment_id}, signed_in=False
    )
    return redirect(f"/my/orders/{order_id}")
