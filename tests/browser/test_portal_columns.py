"""Editorial columns in the portal (§4.2.2): anyone reads the columns and a column's articles; a signed-in
client sees their industry's columns first (the demo enterprise is in technology); an editor plans an issue
on a column's calendar."""

from __future__ import annotations

import re
from datetime import date, timedelta

from playwright.sync_api import Browser, expect

from tests.browser.support import Steps, new_context, staff_page
from tests.support.journeys import PASSWORD


def test_a_client_reads_their_industrys_column_first_and_an_editor_plans_an_issue(
    browser: Browser, portal_url: str, steps: Steps
) -> None:
    visitor = new_context(browser, portal_url).new_page()
    visitor.goto("/")
    visitor.get_by_role("link", name="专栏").click()
    expect(visitor.locator("#columns .card").first).to_be_visible()
    expect(visitor.get_by_text("您所在行业")).to_have_count(0)
    steps.shot(visitor, "columns-for-anyone")

    client = new_context(browser, portal_url).new_page()
    client.goto("/login")
    client.locator("#pw-identifier").fill("client@demo.counsel.test")
    client.locator("#pw-secret").fill(PASSWORD)
    client.locator("#pw-secret").press("Enter")
    expect(client).to_have_url(re.compile(r"/my/orders$"))
    client.get_by_role("link", name="专栏").click()
    first = client.locator("#columns .card").first
    expect(first).to_contain_text("科技企业风险提示")
    expect(first).to_contain_text("您所在行业")
    steps.shot(client, "columns-for-a-technology-client")
    first.get_by_role("link").click()
    expect(client.get_by_role("heading", name="科技企业风险提示", level=1)).to_be_visible()
    articles = client.get_by_role("region", name="本栏文章")
    expect(articles).to_contain_text("风险提示：收集敏感个人信息须取得单独同意")
    expect(client.get_by_role("heading", name="选题日历")).to_have_count(0)  # the calendar is the editors'
    articles.get_by_role("link").first.click()
    expect(client.get_by_role("heading", level=1)).to_contain_text("风险提示")

    editor = staff_page(browser, portal_url, "editor@demo.counsel.test")
    editor.goto("/columns/column-risk-tech")
    calendar = editor.locator("#issues")
    expect(calendar).to_contain_text("2027-01-05")
    expect(calendar).to_contain_text("个人信息出境合规要点")
    planned_for = (date.today() + timedelta(days=10)).isoformat()
    editor.get_by_label("计划日期").fill(planned_for)
    editor.get_by_label("选题", exact=True).fill("生成式人工智能服务备案要点")
    editor.get_by_role("button", name="加入日历").click()
    row = calendar.get_by_role("row").filter(has_text="生成式人工智能服务备案要点")
    expect(row).to_contain_text(planned_for)
    expect(row).to_contain_text("计划中")
    steps.shot(editor, "editor-plans-an-issue")
