"""The rest of the people, each in their own browser, in Chinese: a client admin's inbox and notification
settings, account (a membership card the firm admin issued, activity, export, erasure) and enterprise members;
an editor's article through a reviewer's queue to the public pages; the firm admin's profile, lawyers' hours,
cards and service credentials; the supervisor's ledger check."""

from __future__ import annotations

import json
import re
import secrets

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import Steps, register_client, staff_page

# The demo firm admin's firm (GET /api/v1/me names it): the catalog's demo firm.
DEMO_FIRM = "北京正大律师事务所"


def open_own_firm(page: Page) -> None:
    page.get_by_role("link", name="律所管理").click()
    expect(page.get_by_role("heading", name="律所资料")).to_be_visible()
    expect(page.get_by_label("名称", exact=True)).to_have_value(re.compile(f"^{DEMO_FIRM}"))


def test_a_client_admin_runs_the_account_the_inbox_and_the_enterprise(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    card_number, pin = f"8800{secrets.randbelow(10**8):08d}", "246810"
    firm_admin = staff_page(browser, portal_url, "firm_admin@demo.counsel.test")
    open_own_firm(firm_admin)
    firm_admin.get_by_label("卡号").fill(card_number)
    firm_admin.get_by_label("卡密码（4–8 位数字）").fill(pin)
    firm_admin.get_by_role("button", name="发卡").click()
    expect(firm_admin.locator("#card-list")).to_contain_text(card_number[-4:])

    client = register_client(browser, portal_url, api, steps, "账户测试有限公司")
    client.get_by_role("link", name="消息").click()
    client.get_by_label("短信").check()
    client.get_by_label("开始").fill("22:00")
    client.get_by_label("结束").fill("08:00")
    client.get_by_role("button", name="保存设置").click()
    expect(client.get_by_role("status")).to_have_text("已保存。")
    expect(client.get_by_label("短信")).to_be_checked()
    steps.shot(client, "client-notifications")

    client.get_by_role("link", name="账户").click()
    client.get_by_label("卡号").fill(card_number)
    client.get_by_label("卡密码", exact=True).fill(pin)
    client.get_by_role("button", name="绑定", exact=True).click()
    expect(client.get_by_role("status")).to_contain_text(card_number[-4:])
    expect(client.locator("#login-methods")).to_contain_text(f"****{card_number[-4:]}")
    steps.shot(client, "client-account")
    with client.expect_download() as download:
        client.get_by_role("link", name="导出我的数据（JSON）").click()
    assert json.loads(download.value.path().read_text())

    client.get_by_role("link", name="企业成员").click()
    client.get_by_label("手机号（可带 +86）或邮箱").fill(f"+86 139{secrets.randbelow(10**8):08d}")
    client.get_by_role("button", name="发送邀请").click()
    expect(client.get_by_role("status")).to_contain_text("已邀请")
    # The invited member is listed at once; the admin makes them an admin too.
    invited = client.locator("tbody tr").filter(has=client.locator("select"))
    expect(invited).to_have_count(1)
    invited.locator("select").select_option("client_admin")
    invited.get_by_role("button", name="更改").click()
    expect(client.get_by_role("alert")).to_have_count(0)
    expect(client.locator("tbody tr").filter(has=client.locator("select")).locator("select")).to_have_value(
        "client_admin"
    )
    steps.shot(client, "client-enterprise-members")
    # …and then withdraws the invitation: only the admin is left.
    client.locator("tbody tr").filter(has=client.locator("select")).get_by_role(
        "button", name="移出企业"
    ).click()
    expect(client.locator("tbody tr")).to_have_count(1)

    client.get_by_role("link", name="账户").click()
    client.get_by_label("我确认删除账户及个人数据，且无法恢复").check()
    client.get_by_role("button", name="删除账户").click()
    expect(client.get_by_role("link", name="登录")).to_be_visible()


def test_an_editors_article_is_published_by_another_reviewer(
    browser: Browser, portal_url: str, steps: Steps
) -> None:
    title = f"劳动合同到期不续签的经济补偿 {secrets.token_hex(3)}"
    editor = staff_page(browser, portal_url, "editor@demo.counsel.test")
    editor.get_by_role("link", name="文章工作台").click()
    editor.get_by_label("类型").select_option("news")
    editor.get_by_label("标题").fill(title)
    editor.get_by_label("正文").fill("用人单位不续签的，应当支付经济补偿。\n依据《劳动合同法》第四十六条。")
    editor.get_by_role("button", name="保存草稿").click()
    editor.get_by_role("button", name=f"提交审核 · {title}").click()
    steps.shot(editor, "editor-articles")

    reviewer = staff_page(browser, portal_url, "reviewer@demo.counsel.test")
    reviewer.get_by_role("link", name="文章工作台").click()
    submitted = reviewer.locator(".card", has_text=title)
    steps.shot(reviewer, "reviewer-article-queue")
    submitted.get_by_role("button", name="提交审核结论").click()
    reviewer.goto("/articles")
    expect(reviewer.get_by_role("link", name=title)).to_be_visible()


def test_the_firm_admin_and_the_supervisor(browser: Browser, portal_url: str, steps: Steps) -> None:
    firm_admin = staff_page(browser, portal_url, "firm_admin@demo.counsel.test")
    open_own_firm(firm_admin)
    firm_admin.get_by_role("button", name="保存资料").click()
    expect(firm_admin.get_by_role("heading", name="律所资料")).to_be_visible()
    firm_admin.locator(".lawyer").first.get_by_role("button", name="保存服务时间").click()
    expect(firm_admin.get_by_role("alert")).to_have_count(0)
    # A lawyer taken off the platform and back (the last of the firm: no journey books them).
    last = firm_admin.locator(".lawyer").last
    lawyer_id = last.get_attribute("id")
    last.get_by_role("button", name=re.compile("^停用")).click()
    expect(firm_admin.locator(f"#{lawyer_id} h3")).to_contain_text("已停用")
    firm_admin.locator(f"#{lawyer_id}").get_by_role("button", name=re.compile("^启用")).click()
    expect(firm_admin.locator(f"#{lawyer_id} h3")).to_contain_text("已上线")
    system = f"案件管理系统 {secrets.token_hex(2)}"
    firm_admin.get_by_label("系统名称").fill(system)
    firm_admin.get_by_role("button", name="生成凭证").click()
    expect(firm_admin.locator("#client-secret")).not_to_be_empty()
    steps.shot(firm_admin, "firm-admin")
    firm_admin.get_by_role("button", name="吊销此凭证").click()
    # The firm's credentials are listed, never with their secret; these are now revoked.
    expect(firm_admin.locator("#system-list li", has_text=system)).to_contain_text("已吊销")
    expect(firm_admin.locator("#client-secret")).to_have_count(0)

    supervisor = staff_page(browser, portal_url, "supervisor@demo.counsel.test")
    supervisor.get_by_role("link", name="时限看板").click()
    supervisor.get_by_role("button", name="校验支付账本").click()
    expect(supervisor.locator("#ledger-result")).to_contain_text("哈希链完整")
    steps.shot(supervisor, "supervisor-board-ledger")
