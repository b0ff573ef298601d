"""A client's home suggests the next purchases (§5.5, R-Q-2): after three labour questions, the labour-compliance
review first, with its reason in Chinese, linking to the product. (A page with no suggestions shows no
section: tests/unit/test_portal.py; a new enterprise already has the popular ones.)"""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.support import Steps, register_client

QUESTIONS = (
    "员工试用期被辞退要不要给经济补偿？",
    "公司没给员工交社保，员工要求解除劳动合同怎么办？",
    "加班费按什么标准算？员工说我们少发了加班工资",
)
SUGGESTION_SECONDS = 90  # three classifications, then the catalog's history of the enterprise


def test_three_labour_questions_put_the_labour_compliance_review_on_the_clients_home(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    page = register_client(browser, portal_url, api, steps, "推荐页面制造有限公司")
    page.goto("/")
    expect(page.get_by_role("heading", name="推荐服务")).to_be_visible()
    expect(page.get_by_text("本季度三次劳动咨询 → 劳动合规审查")).to_have_count(0)

    for question in QUESTIONS:
        page.goto("/my/consultations")
        page.get_by_label("标题").fill("用工问题")
        page.get_by_label("问题").fill(question)
        page.get_by_role("button", name="提交咨询").click()
        expect(page).to_have_url(re.compile(r"/consultations/[^/]+$"))

    deadline = time.monotonic() + SUGGESTION_SECONDS
    while True:
        page.goto("/")
        if page.get_by_text("本季度三次劳动咨询 → 劳动合规审查").count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(2000)
    suggestions = page.get_by_role("region", name="为您推荐")
    expect(suggestions.get_by_role("listitem").first).to_contain_text("本季度三次劳动咨询 → 劳动合规审查")
    assert 1 <= suggestions.locator(".card").count() <= 5
    steps.shot(page, "home-with-suggestions")
    suggestions.get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/products/doc-labour-compliance$"))
    expect(page.get_by_role("heading", name="服务流程")).to_be_visible()
