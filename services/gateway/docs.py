"""Interactive API docs (`/docs`, Swagger UI; `/redoc`, ReDoc) served with their scripts, styles and icon from
the `fastapi-offline` package installed with counsel: FastAPI's default pages load them from a public CDN and
render blank without internet (and unreliably from mainland China). FastAPI's documented self-hosting, with the
assets as fixed routes (no static mount, which would be tried on every request of the API)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PATH = "/docs/assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"
_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# Versioned with the installed package: the assets change only when it does.
_ASSET_CACHE = "public, max-age=86400"
# The pages load nothing from another host, also what the bundles name themselves (ReDoc's footer logo is an
# image on its makers' CDN): the browser is told so. FastAPI's Swagger page starts the UI with an inline
# script, and both UIs style their elements inline.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def add_docs(app: FastAPI) -> None:
    """Adds /docs (and its OAuth2 redirect page), /redoc and their assets to `app` (created with docs_url=None
    and redoc_url=None)."""
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    favicon = f"{ASSETS_PATH}/favicon.png"

    async def swagger_ui() -> HTMLResponse:
        return _with_csp(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{app.title} — Swagger UI",
                oauth2_redirect_url=oauth2_redirect_url,
                swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                swagger_favicon_url=favicon,
                # Swagger UI's default validator badge is an image from a public host.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    async def redoc() -> HTMLResponse:
        return _with_csp(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{app.title} — ReDoc",
                redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
                redoc_favicon_url=favicon,
                with_google_fonts=False,
            )
        )

    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    app.add_api_route("/docs", swagger_ui, include_in_schema=False)
    app.add_api_route(oauth2_redirect_url, swagger_ui_redirect, include_in_schema=False)
    app.add_api_route("/redoc", redoc, include_in_schema=False)
    for name, media_type in _MEDIA_TYPES.items():
        app.add_api_route(
            f"{ASSETS_PATH}/{name}", _asset(_ASSETS_DIR / name, media_type), include_in_schema=False
        )


def _with_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def _asset(path: Path, media_type: str) -> Callable[[], Awaitable[FileResponse]]:
    async def serve() -> FileResponse:
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": _ASSET_CACHE})

    return serve
