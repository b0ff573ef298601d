"""A client's question in the portal, in Chinese: asked on a phone, classified and assigned by the platform,
answered by the lawyer from the queue in their own browser, then rated and closed by the client."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.support import LAWYER_BY_ID, Steps, register_client, staff_page
from tests.support.journeys import login

QUESTION = "公司已经拖欠我们三个月工资，现在人事要求我签自愿离职申请，不签就辞退。我能拒绝并要求经济补偿吗？"
# Classification and assignment run asynchronously (consumer, workflow); the page refreshes every 5 s.
ASYNC_TIMEOUT_MS = 60_000


def test_a_client_asks_the_assigned_lawyer_answers_and_the_client_rates_and_closes(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    client = register_client(browser, portal_url, api, steps, "咨询测试有限公司")
    client.get_by_role("link", name="我的咨询").click()
    client.get_by_label("标题").fill("被拖欠工资还被要求离职")
    client.get_by_label("问题").fill(QUESTION)
    steps.shot(client, "client-asks")
    client.get_by_role("button", name="提交咨询").click()
    expect(client.locator("#consultation-status")).to_have_text("已分配律师", timeout=ASYNC_TIMEOUT_MS)
    expect(client.get_by_text("劳动", exact=True)).to_be_visible()
    steps.shot(client, "client-question-assigned")
    consultation_id = client.url.rsplit("/", 1)[1]

    assigned = api.get(
        f"/api/v1/consultations/{consultation_id}", headers=login(api, "agent@demo.counsel.test")
    ).json()["assigned_lawyer_id"]
    lawyer = staff_page(browser, portal_url, LAWYER_BY_ID[assigned])
    lawyer.get_by_role("link", name="被拖欠工资还被要求离职").click()
    expect(lawyer).to_have_url(re.compile(f"/consultations/{consultation_id}$"))
    lawyer.get_by_label("答复").fill(
        "可以拒绝签署。依据《劳动合同法》第三十八条，用人单位未及时足额支付劳动报酬的，您可以解除合同并要求经济补偿。"
    )
    lawyer.get_by_role("button", name="发送").click()
    expect(lawyer.locator("#consultation-status")).to_have_text("已答复")
    steps.shot(lawyer, "lawyer-answered")

    client.reload()
    expect(client.locator(".message.lawyer")).to_contain_text("第三十八条")
    client.get_by_label("★★★★★", exact=True).check()
    client.get_by_label("评价").fill("回复及时专业")
    client.get_by_role("button", name="提交评分").click()
    expect(client.get_by_text("★ 5")).to_be_visible()
    client.get_by_role("button", name="结束咨询").click()
    expect(client.locator("#consultation-status")).to_have_text("已结束")
    steps.shot(client, "client-rated-and-closed")
