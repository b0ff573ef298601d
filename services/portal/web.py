"""What every page of the portal uses: the request's session and gateway, the CSRF-checked form, role
checks, and rendering a template in the request's language."""

from __future__ import annotations

import gettext
import hmac
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Unpack

import httpx
import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData, UploadFile

from services.portal import i18n, labels
from services.portal.config import PortalSettings
from services.portal.gateway import Gateway, GatewayError, RequestParts, SignedOut
from services.portal.licences import PlatformLicences
from services.portal.session import Session

TEMPLATES_DIR = Path(__file__).parent / "templates"


def make_templates(translations: dict[str, gettext.NullTranslations]) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    templates = Jinja2Templates(env=env)

    def _gettext(message: str) -> str:
        return translations[i18n.locale_var.get()].gettext(message)

    def _ngettext(singular: str, plural: str, n: int) -> str:
        return translations[i18n.locale_var.get()].ngettext(singular, plural, n)

    templates.env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    templates.env.globals["label"] = lambda code: labels.label(code, _gettext)
    templates.env.globals["reason"] = i18n.reason
    templates.env.filters["money"] = i18n.money
    templates.env.filters["local_time"] = i18n.local_time
    return templates


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def settings_of(request: Request) -> PortalSettings:
    settings: PortalSettings = request.app.state.settings
    return settings


async def checked_form(request: Request) -> FormData:
    """The posted form, refused (403) unless it carries the session's CSRF token."""
    form = await request.form()
    token = form.get("csrf_token")
    if not isinstance(token, str) or not hmac.compare_digest(token, session_of(request).csrf):
        raise HTTPException(403, "CSRF")
    return form


async def signed_in(request: Request) -> Session:
    """The session of a signed-in user, its access token fresh; otherwise the login page (SignedOut)."""
    session = session_of(request)
    if not session.signed_in:
        raise SignedOut
    await gateway_of(request).fresh(session)
    return session


def require_role(*roles: str) -> Any:
    async def check(session: Annotated[Session, Depends(signed_in)]) -> Session:
        if not session.has_role(*roles):
            raise HTTPException(403)
        return session

    return Depends(check)


SessionDep = Annotated[Session, Depends(session_of)]
UserDep = Annotated[Session, Depends(signed_in)]
GatewayDep = Annotated[Gateway, Depends(gateway_of)]
SettingsDep = Annotated[PortalSettings, Depends(settings_of)]
FormDep = Annotated[FormData, Depends(checked_form)]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    licences: PlatformLicences = request.app.state.licences
    licences.refresh_when_due()  # in the background: this page shows the last read
    locale = i18n.locale_var.get()
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "csrf": session.csrf,
            "html_lang": i18n.LOCALES[locale],
            "locale": locale,
            "dev": settings_of(request).dev_routes,
            "privacy_policy": {
                "version": settings_of(request).privacy_policy_version,
                "url": settings_of(request).privacy_policy_url,
            },
            "platform": licences.current,
            # The Idempotency-Key of the forms that create (an order, a payment): a resubmitted form repeats it.
            "form_key": uuid.uuid4().hex,
            **context,
        },
        status_code=status_code,
    )


@dataclass(frozen=True)
class ResourcePage:
    """A page showing one API resource, whose forms post the resource's commands (`{id}` in both paths)."""

    api_path: str  # /api/v1/document-orders/{id}
    url: str  # /documents/{id}
    template: str
    name: str  # the resource's name in the template
    # What else the page shows beside the resource (read with the resource at hand), if anything.
    extra: Callable[[Session, Gateway, dict[str, Any]], Awaitable[dict[str, Any]]] | None = None

    async def show(
        self, request: Request, session: Session, resource_id: str, error: GatewayError | None = None
    ) -> HTMLResponse:
        gateway = gateway_of(request)
        item = await gateway.call(session, "GET", self.api_path, path={"id": resource_id})
        more = await self.extra(session, gateway, item) if self.extra else {}
        status = error.status if error else 200
        return render(request, self.template, status, error=error, **more, **{self.name: item})

    async def act(
        self,
        request: Request,
        session: Session,
        resource_id: str,
        command: str,
        **parts: Unpack[RequestParts],
    ) -> Response:
        """POSTs `command` (`/acknowledge`) to the resource, then shows its page again: after a redirect when it
        was done, at once with the refusal when the API refused it."""
        target: RequestParts = {**parts, "path": {"id": resource_id}}
        try:
            await gateway_of(request).call(session, "POST", self.api_path + command, **target)
        except GatewayError as exc:
            return await self.show(request, session, resource_id, exc)
        return redirect(self.url.format(id=resource_id))


def form_text(form: Any, name: str) -> str:
    """A posted field's text, trimmed ("" when absent or a file)."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def form_lines(form: Any, name: str) -> list[str]:
    """A textarea's non-empty lines, each trimmed: how the portal's forms take a list."""
    return [line.strip() for line in form_text(form, name).splitlines() if line.strip()]


async def form_file(form: Any, name: str) -> tuple[str, bytes, str] | None:
    """A posted file as a gateway call sends it on (`files=`): (name, content, type); None when none was
    chosen."""
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    return upload.filename, await upload.read(), upload.content_type or "application/octet-stream"


def rating_of(form: Any) -> int:
    """A rating form's stars, 422 when the field is not a number (the API checks the range)."""
    try:
        return int(form_text(form, "rating"))
    except ValueError as exc:
        raise HTTPException(422) from exc


# Headers of a download passed on to the browser as they are.
DOWNLOAD_HEADERS = ("content-type", "content-length", "content-disposition", "repr-digest")


def relay(upstream: httpx.Response) -> StreamingResponse:
    """Streams a gateway download (Gateway.download) to the browser, closing it at the end."""
    headers = {k: v for k, v in upstream.headers.items() if k.lower() in DOWNLOAD_HEADERS}

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        finally:
            await upstream.aclose()

    return StreamingResponse(body(), headers=headers)


def redirect(url: str) -> RedirectResponse:
    """After a POST, the page to show next (303: the browser GETs it)."""
    return RedirectResponse(url, status_code=303)
