"""A client's whole document order in the portal, in Chinese, on a phone-sized screen: registers with the code
from the dev outbox, orders a contract review with the generated requirement form, pays in the sandbox and
follows the order; the agent, the lawyer and the reviewer act in their own browsers; the client downloads the
approved version, asks for a revision and accepts the second one; the supervisor's SLA board shows the clock
while it runs."""

from __future__ import annotations

import hashlib
import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import LAWYER_BY_ID, Steps, register_client, staff_page
from tests.support.journeys import login

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# Stages change asynchronously (payment notification, workflow): the pages refresh themselves every 5 s.
ASYNC_TIMEOUT_MS = 60_000


def open_document(page: Page, document_order_id: str) -> None:
    page.goto("/work")
    page.locator(f'a[href="/documents/{document_order_id}"]').first.click()
    expect(page).to_have_url(re.compile(f"/documents/{document_order_id}$"))


def upload_draft(page: Page, content: bytes, note: str) -> None:
    page.get_by_label("文稿文件").set_input_files(
        {"name": "合同审查意见.docx", "mimeType": DOCX, "buffer": content}
    )
    page.get_by_label("说明").fill(note)
    page.get_by_role("button", name="上传文稿").click()
    expect(page.locator("#doc-stage")).to_have_text("审核中")


def approve(page: Page) -> None:
    page.get_by_label("通过").check()
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator("#doc-stage")).to_have_text("已交付")


def test_a_client_orders_a_contract_review_and_accepts_it_after_a_revision(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    client = register_client(browser, portal_url, api, steps, "浏览器测试有限公司")

    # Finds the product by a Chinese search and orders it with the form generated from requirement_fields.
    client.goto("/")
    client.get_by_label("搜索服务").fill("合同审查")
    client.get_by_label("搜索服务").press("Enter")
    steps.shot(client, "client-searches")
    client.get_by_role("link", name=re.compile("合同审查")).first.click()
    expect(client.get_by_role("heading", name=re.compile("合同审查"), level=1)).to_be_visible()
    client.get_by_label(re.compile("合同类型")).select_option("买卖 Sale")
    client.get_by_label(re.compile("合同各方")).fill("甲方 浏览器测试有限公司\n乙方 某供应商")
    client.get_by_label(re.compile("主要条款")).fill("货物、价款、交付、违约责任")
    steps.shot(client, "client-fills-the-requirements")
    client.get_by_role("button", name="提交订单").click()
    expect(client.locator("#order-status")).to_have_text("待支付")
    order_id = client.url.rsplit("/", 1)[1]

    # Pays in the sandbox; the order page follows the payment and the document order by itself.
    client.get_by_role("button", name="去支付").click()
    steps.shot(client, "client-pays")
    client.get_by_role("button", name="确认支付").click()
    expect(client.get_by_role("link", name="查看文书进度")).to_be_visible(timeout=ASYNC_TIMEOUT_MS)
    expect(client.locator("#order-status")).to_have_text("服务中")
    steps.shot(client, "client-order-in-service")
    client.get_by_role("link", name="查看文书进度").click()
    document_order_id = client.url.rsplit("/", 1)[1]
    expect(client.locator("#doc-stage")).to_have_text("待客服确认")
    steps.shot(client, "client-document-awaits-acknowledgement")

    # The agent acknowledges it from the queue.
    agent = staff_page(browser, portal_url, "agent@demo.counsel.test")
    steps.shot(agent, "agent-queue")
    open_document(agent, document_order_id)
    agent.get_by_label("确认说明").fill("已收到，律师起草中")
    agent.get_by_role("button", name="确认受理").click()
    expect(agent.locator("#doc-stage")).to_have_text("起草中")
    steps.shot(agent, "agent-acknowledged")
    # The client's timeline shows the drafting clock running.
    client.goto(f"/my/orders/{order_id}")
    expect(client.locator(".timeline .current")).to_contain_text("起草中")
    steps.shot(client, "client-order-timeline")
    # The supervisor's SLA board counts it among the drafting clocks, with its due time.
    supervisor = staff_page(browser, portal_url, "supervisor@demo.counsel.test")
    supervisor.get_by_role("link", name="时限看板").click()
    drafting = supervisor.get_by_role("row", name=re.compile("^起草中"))
    expect(drafting.get_by_role("cell").first).not_to_have_text("0")
    steps.shot(supervisor, "supervisor-sla-board")

    # The assigned lawyer finds it in the queue by due time and uploads a draft; a reviewer approves it.
    assigned = api.get(
        f"/api/v1/document-orders/{document_order_id}", headers=login(api, "agent@demo.counsel.test")
    ).json()["assigned_lawyer_id"]
    lawyer = staff_page(browser, portal_url, LAWYER_BY_ID[assigned])
    expect(lawyer.locator(f'a[href="/documents/{document_order_id}"]')).to_be_visible()
    steps.shot(lawyer, "lawyer-queue")
    open_document(lawyer, document_order_id)
    first = "合同审查意见（第一版）\n".encode() + document_order_id.encode()
    upload_draft(lawyer, first, "初稿")
    steps.shot(lawyer, "lawyer-uploaded")
    reviewer = staff_page(browser, portal_url, "reviewer@demo.counsel.test")
    open_document(reviewer, document_order_id)
    steps.shot(reviewer, "reviewer-reviews")
    approve(reviewer)

    # The client downloads the approved version (its digest as shown) and asks for a revision.
    client.goto(f"/documents/{document_order_id}")
    expect(client.locator("#doc-stage")).to_have_text("已交付")
    digest = hashlib.sha256(first).hexdigest()
    expect(client.get_by_text(digest)).to_be_visible()
    with client.expect_download() as download:
        client.get_by_role("link", name="合同审查意见.docx").click()
    assert hashlib.sha256(download.value.path().read_bytes()).hexdigest() == digest
    steps.shot(client, "client-document-delivered")
    client.get_by_label("修改要求").fill("请补充违约金的计算方式")
    client.get_by_role("button", name="申请修改").click()
    expect(client.locator("#doc-stage")).to_have_text("修改中")

    # The revision goes through the lawyer and the review again; the client accepts it.
    lawyer.reload()
    upload_draft(lawyer, "合同审查意见（第二版）\n".encode() + document_order_id.encode(), "已补充违约金")
    reviewer.reload()
    approve(reviewer)
    client.reload()
    expect(client.locator("#doc-stage")).to_have_text("已交付")
    client.get_by_role("button", name="确认验收").click()
    expect(client.locator("#doc-stage")).to_have_text("已完成")
    steps.shot(client, "client-accepted")

    client.goto(f"/my/orders/{order_id}")
    expect(client.locator("#order-status")).to_have_text("已完成", timeout=ASYNC_TIMEOUT_MS)
    steps.shot(client, "client-order-completed")
