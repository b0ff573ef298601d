"""A lawyer sees their own standing on their workbench (§4.2.1): GET /api/v1/me names their catalog profile
(`lawyer_id`), whose verification state, annual inspection date and whether they take new work the page
shows in Chinese."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.support import Steps, staff_page
from tests.support.journeys import login

LAWYER = "lawyer2@demo.counsel.test"


def test_a_lawyer_sees_their_verification_and_inspection_date_on_the_workbench(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    lawyer_id = api.get("/api/v1/me", headers=login(api, LAWYER)).json()["lawyer_id"]
    assert lawyer_id
    assert (
        api.get("/api/v1/me", headers=login(api, "supervisor@demo.counsel.test")).json()["lawyer_id"] is None
    )

    page = staff_page(browser, portal_url, LAWYER)
    standing = page.locator("#standing")
    expect(standing.get_by_role("heading")).to_have_text("我的执业资质")
    expect(standing.locator(".verification")).to_have_text("已核验")
    expect(standing.locator(".inspection")).to_have_text(re.compile(r"^\d{4}-05-31$"))
    expect(standing.locator(".unavailable")).to_have_text("可以接新业务")
    steps.shot(page, "lawyer-standing")
