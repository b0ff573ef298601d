"""What anyone sees, on a phone, in Chinese and in English, and the API docs served without the internet."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, Request, expect

from deploy.local.launcher import StackProcess
from tests.browser.support import DESKTOP, Steps, new_context


def test_anyone_browses_services_firms_lawyers_and_articles(
    browser: Browser, portal_url: str, steps: Steps
) -> None:
    page = new_context(browser, portal_url).new_page()
    page.goto("/")
    expect(page.get_by_role("heading", name="推荐服务")).to_be_visible()
    expect(page.locator(".cards .card").first).to_contain_text("¥")
    # The platform's own licences (GET /api/v1/platform; the marked demo values when none is configured).
    expect(page.get_by_role("contentinfo")).to_contain_text("ICP 备案号 京ICP备00000000号（演示 demo）")
    expect(page.get_by_role("contentinfo")).to_contain_text("营业执照 91350100M000100Y43（演示 demo）")
    steps.shot(page, "home")

    page.get_by_role("link", name="服务", exact=True).click()
    page.get_by_label("类别").select_option("document")
    page.get_by_role("button", name="搜索").click()
    # contract drafting and review, the lawyer letter, the four other papers the standard lists (§5.2.3) and
    # the six reviews next purchases suggest
    expect(page.locator(".cards .card")).to_have_count(13)
    steps.shot(page, "products-documents")
    page.get_by_role("link", name=re.compile("律师函")).click()
    expect(page.get_by_role("heading", name="服务流程")).to_be_visible()
    expect(page.get_by_role("link", name="登录后下单")).to_be_visible()
    steps.shot(page, "product-detail")

    page.get_by_role("link", name="律所").click()
    page.locator(".cards a").first.click()
    expect(page.get_by_text("营业时间")).to_be_visible()
    steps.shot(page, "firm")
    page.get_by_role("link", name="律师").click()
    expect(page.get_by_text("最近可约").first).to_be_visible()
    steps.shot(page, "lawyers")
    page.get_by_role("link", name="文章").click()
    steps.shot(page, "articles")

    # One catalogue gives the same pages in English; the choice is kept.
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="Articles", level=1)).to_be_visible()
    page.goto("/products")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    steps.shot(page, "products-in-english")


def test_a_keyboard_reaches_the_login_form_from_the_skip_link(browser: Browser, portal_url: str) -> None:
    page = new_context(browser, portal_url).new_page()
    page.goto("/login")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#main$"))


def test_the_api_docs_render_without_the_internet(
    browser: Browser, portal_platform: StackProcess, steps: Steps
) -> None:
    """Neither page reaches another host (the context would refuse it anyway): Swagger UI and ReDoc draw the
    API from the gateway alone. ReDoc's bundle names its makers' logo on a CDN; the page's policy stops that
    in the browser (failure "csp"), before any network."""
    context = new_context(browser, portal_platform.base_url, DESKTOP)
    tried: list[str] = []

    def elsewhere(request: Request) -> bool:
        return not request.url.startswith(portal_platform.base_url)

    context.on("requestfinished", lambda r: tried.append(r.url) if elsewhere(r) else None)
    context.on(
        "requestfailed", lambda r: tried.append(r.url) if elsewhere(r) and r.failure != "csp" else None
    )
    page = context.new_page()
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("counsel API")
    expect(page.locator(".opblock").first).to_be_visible()
    steps.shot(page, "swagger-ui", ours=False)
    page.goto("/redoc")
    # ReDoc lays out the whole document before it shows anything: seconds on a busy machine.
    expect(page.get_by_role("heading", name=re.compile("counsel API"))).to_be_visible(timeout=60_000)
    steps.shot(page, "redoc", ours=False)
    assert tried == []
    assert httpx.get(f"{portal_platform.base_url}/docs").status_code == 200
