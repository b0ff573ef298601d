"""The operator onboards a firm in the portal (§4.1.1, §4.1.2; README "Firms join on verified
qualifications"): the firms with their agreement's state and end date, a firm registered — a wrong unified
social credit code refused beside its field —, its signed agreement uploaded, its first admin invited; the
admin's first sign-in asks them to accept the privacy policy in force and then continues."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import httpx
from playwright.sync_api import Browser, FilePayload, expect

from tests.browser.support import DESKTOP, Steps, new_context, staff_page
from tests.support.journeys import PRIVACY_POLICY_VERSION, credit_code, latest_code

OPERATOR = "operator@demo.counsel.test"


def test_the_operator_registers_a_firm_records_its_agreement_and_invites_its_admin(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    page = staff_page(browser, portal_url, OPERATOR)
    page.get_by_role("link", name="律所入驻").click()
    firms = page.locator("#firms")
    expect(firms).to_contain_text("合作中")  # the demo firms' ten-year agreements
    steps.shot(page, "operator-firms")

    name = f"入驻测试律师事务所 {uuid.uuid4().hex[:6]}"
    page.get_by_label("律所名称").fill(name)
    page.get_by_label("统一社会信用代码（18 位）").fill("91350100M000100Y44")  # last check character wrong
    page.get_by_label("注册资本（元）").fill("1,000,000")
    page.get_by_label("注册地址").fill("北京市海淀区中关村大街1号")
    page.get_by_label("城市").fill("北京")
    page.get_by_role("button", name="登记").click()
    code_field = page.get_by_label("统一社会信用代码（18 位）")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#credit_code-error")).to_be_visible()
    expect(page.get_by_label("律所名称")).to_have_value(name)  # what was typed is kept
    steps.shot(page, "credit-code-refused")

    code_field.fill(credit_code())
    page.get_by_role("button", name="登记").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.locator("#agreement-state")).to_have_text("待签协议")
    expect(page.locator("#firm-facts")).to_contain_text("¥1,000,000.00")

    starts, ends = date.today(), date.today() + timedelta(days=365)
    agreement: FilePayload = {
        "name": "合作协议.pdf",
        "mimeType": "application/pdf",
        "buffer": b"%PDF-1.7 signed",
    }
    page.get_by_label("协议文件").set_input_files(files=[agreement])
    page.get_by_label("生效日期").fill(starts.isoformat())
    page.get_by_label("到期日期").fill(ends.isoformat())
    page.get_by_role("button", name="上传协议").click()
    expect(page.locator("#agreement-state")).to_have_text("合作中")
    expect(page.locator("#agreement-term")).to_have_text(f"{starts.isoformat()} — {ends.isoformat()}")
    steps.shot(page, "agreement-recorded")

    email = f"admin-{uuid.uuid4().hex[:8]}@firm.example.cn"
    page.get_by_label("管理员手机号或邮箱").fill(email)
    page.get_by_role("button", name="发送邀请").click()
    expect(page.get_by_role("status")).to_contain_text(email)
    invitation = api.get("/api/v1/dev/outbox", params={"to": email}).json()["items"]
    assert invitation and "律所管理员" in invitation[0]["body"]
    steps.shot(page, "admin-invited")

    # The admin signs in with a code; never having accepted the privacy policy, they are asked to first.
    admin = new_context(browser, portal_url, DESKTOP).new_page()
    admin.goto("/login")
    code_form = admin.get_by_role("region", name="验证码登录")
    code_form.get_by_label("手机号（可带 +86）或邮箱").fill(email)
    code_form.get_by_role("button", name="发送验证码").click()
    code_form.get_by_label("验证码", exact=True).fill(latest_code(api, email))
    code_form.get_by_role("button", name="登录").click()
    expect(admin.get_by_role("heading", name="请先同意新版隐私政策")).to_be_visible()
    expect(admin.locator("#consent")).to_contain_text(PRIVACY_POLICY_VERSION)
    steps.shot(admin, "admin-asked-to-accept-the-privacy-policy")
    code_form.get_by_role("button", name="发送验证码").click()  # the first code is spent
    code_form.get_by_label("验证码", exact=True).fill(latest_code(api, email))
    code_form.get_by_label("我已阅读并同意").check()
    code_form.get_by_role("button", name="登录").click()
    expect(admin).to_have_url(re.compile(r"/work$"))
    expect(admin.get_by_role("link", name="律所管理")).to_be_visible()

    page.get_by_role("link", name="返回律所列表").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
    expect(row).to_contain_text("合作中")
    expect(row).to_contain_text(ends.isoformat())
    expect(page).to_have_url(re.compile(r"/operator/firms$"))
