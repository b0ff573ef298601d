"""What the browser tier's journeys share: a person's browser context, registering a client, a staff login, and
the screenshots with their accessibility check."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from services.identity.seed import LAWYER_EMAILS, demo_user_id
from tests.support.journeys import PASSWORD, latest_code

CHROMIUM = Path("/usr/bin/chromium")
# Without a CJK font Chromium draws every Chinese character as a box: the screenshots would show nothing.
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
# Most clients open the portal in WeChat's in-app browser on a phone.
PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
BLOCKING_IMPACTS = {"serious", "critical"}
LAWYER_BY_ID = {demo_user_id(email): email for email in LAWYER_EMAILS}
# Payment notifications and workflows are asynchronous: the order page refreshes itself every 5 s.
ASYNC_TIMEOUT_MS = 60_000
# How long an action or an assertion waits for the page: generous, since the tier shares two cores with
# the rest of `make test` (an assertion is about what the page shows, never how fast). Playwright's own
# default for `expect` is 5 s, which a busy machine exceeds (Swagger UI drawing the API, say).
ACTION_TIMEOUT_MS = 15_000
expect.set_options(timeout=ACTION_TIMEOUT_MS)


@dataclass
class Steps:
    """Screenshots of a journey, numbered in order, and an accessibility check of each page shot."""

    directory: Path
    axe: Axe = field(default_factory=Axe)
    taken: list[Path] = field(default_factory=list)

    def shot(self, page: Page, name: str, *, ours: bool = True) -> Path:
        """A screenshot of `page` (the whole page when it is `ours`, checked with axe-core too; the visible
        part of anyone else's, such as Swagger UI's hundreds of operations)."""
        path = self.directory / f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9-]+', '-', name)}.png"
        page.screenshot(path=str(path), full_page=ours)
        self.taken.append(path)
        if ours:
            violations = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                for v in self.axe.run(page).response["violations"]
                if v["impact"] in BLOCKING_IMPACTS
            ]
            assert not violations, f"{page.url}: {violations}"
        return path


def new_context(browser: Browser, portal_url: str, viewport: ViewportSize = PHONE) -> BrowserContext:
    """A person's own browser: Chinese, Beijing time, only the portal's own host reachable (anything else
    fails the request, so a page that needs the internet shows it)."""
    context = browser.new_context(
        base_url=portal_url,
        viewport=viewport,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.route(re.compile(r"^(?!http://127\.0\.0\.1[:/]).*"), lambda route: route.abort())
    return context


def register_client(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps, enterprise: str
) -> Page:
    """A new client admin on a phone, registered by SMS code (read from the dev outbox, as from the phone),
    the number typed with +86 and dashes; left on "my services"."""
    page = new_context(browser, portal_url).new_page()
    phone = f"137{secrets.randbelow(10**8):08d}"
    page.goto("/register")
    page.get_by_label("手机号（可带 +86）或邮箱").fill(f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}")
    page.get_by_role("button", name="发送验证码").click()
    expect(page.get_by_role("status")).to_have_text("验证码已发送。")
    page.get_by_label("验证码").fill(latest_code(api, phone))
    page.get_by_label("姓名").fill("王小明")
    page.get_by_label("企业名称").fill(enterprise)
    page.get_by_label("密码（可选）").fill("Browser-Passw0rd!")
    page.get_by_label("我已阅读并同意").check()
    steps.shot(page, "client-registers")
    page.get_by_role("button", name="注册", exact=True).click()
    expect(page.get_by_role("heading", name="我的服务")).to_be_visible()
    return page


def staff_page(browser: Browser, portal_url: str, email: str) -> Page:
    """A staff member's own browser (a desktop), logged in with the password form by keyboard; left on the
    workbench."""
    page = new_context(browser, portal_url, DESKTOP).new_page()
    page.goto("/login")
    page.locator("#pw-identifier").fill(email)
    page.locator("#pw-secret").fill(PASSWORD)
    page.locator("#pw-secret").press("Enter")
    expect(page).to_have_url(re.compile(r"/work$"))
    return page


def pay_in_the_sandbox(page: Page, steps: Steps, name: str) -> None:
    """Pays the order `page` shows with the sandbox provider, as the client would, and waits for its voucher."""
    page.get_by_role("button", name="去支付").click()
    page.get_by_role("button", name="确认支付").click()
    expect(page.locator("#voucher-code")).to_be_visible(timeout=ASYNC_TIMEOUT_MS)
    expect(page.get_by_role("link", name="下载发票（PDF）")).to_be_visible()
    steps.shot(page, name)
