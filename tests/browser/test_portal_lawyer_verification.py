"""A lawyer qualifies on verified credentials in the portal (§4.2.1): the firm's admin submits the lawyer's
certificate number, scans, inspection date and years of practice — a malformed number refused beside its
field —, then records what was checked and puts the lawyer on; until then the lawyer's standing says why
they take no new work; a supervisor reads the verification history."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx
from playwright.sync_api import Browser, FilePayload, Locator, expect

from tests.browser.support import Steps, staff_page
from tests.support.journeys import login

FIRM_ADMIN = "firm_admin@demo.counsel.test"
NOTES = "执业证与学位证原件核对一致，年检有效"


def scan(name: str) -> FilePayload:
    return {"name": name, "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + name.encode()}


def new_lawyer(api: httpx.Client, name: str, years_of_practice: int) -> str:
    """A new, inactive lawyer of the demo firm admin's firm, added through the API; their id."""
    admin = login(api, FIRM_ADMIN)
    firm_id = api.get("/api/v1/me", headers=admin).json()["firm_id"]
    created = api.post(
        f"/api/v1/firms/{firm_id}/lawyers",
        headers=admin,
        json={
            "name": name,
            "specialty": "劳动争议",
            "fields": ["labour"],
            "years_of_practice": years_of_practice,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def fill_credentials(card: Locator, certificate_number: str, inspection: str, years: str) -> None:
    """The firm admin's credentials form of one lawyer, submitted."""
    card.get_by_label("执业证号（17 位数字）").fill(certificate_number)
    card.get_by_label("执业证扫描件").set_input_files(files=[scan("执业证.png")])
    card.get_by_label("学位证扫描件").set_input_files(files=[scan("学位证.png")])
    card.get_by_label("年检截止日期").fill(inspection)
    card.get_by_label("执业年限").fill(years)
    card.get_by_role("button", name="提交核验").click()


def test_a_firm_admin_submits_and_verifies_a_lawyers_credentials_and_a_supervisor_reads_the_history(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    name = f"核验测试律师 {uuid.uuid4().hex[:4]}"
    lawyer_id = new_lawyer(api, name, 1)

    page = staff_page(browser, portal_url, FIRM_ADMIN)
    page.get_by_role("link", name="律所管理").click()
    card = page.locator(f"#lawyer-{lawyer_id}")
    expect(card.locator(".verification")).to_have_text("未提交")
    expect(card.locator(".unavailable")).to_have_text("律师未上线")

    inspection = (date.today() + timedelta(days=180)).isoformat()
    fill_credentials(card, "1101201912345", inspection, "4")  # too short
    card = page.locator(f"#lawyer-{lawyer_id}")
    expect(card.get_by_label("执业证号（17 位数字）")).to_have_attribute("aria-invalid", "true")
    expect(card.locator("#certificate_number-error")).to_be_visible()
    steps.shot(page, "certificate-number-refused")

    fill_credentials(card, "11012019112345678", inspection, "4")
    expect(card.locator(".verification")).to_have_text("待核验")
    card.get_by_label("核验通过").check()
    card.get_by_label("核验了哪些内容").fill(NOTES)
    card.get_by_role("button", name="记录核验").click()
    expect(card.locator(".verification")).to_have_text("已核验")
    card.get_by_role("button", name=f"启用 {name}").click()
    expect(card.locator("h3")).to_contain_text("已上线")
    expect(card.locator(".unavailable")).to_have_count(0)  # takes new work now
    steps.shot(page, "lawyer-verified")

    supervisor = staff_page(browser, portal_url, "supervisor@demo.counsel.test")
    supervisor.goto(f"/lawyers/{lawyer_id}/verifications")
    row = supervisor.locator("#verification-history tbody tr").first
    expect(row).to_contain_text(NOTES)
    expect(row).to_contain_text("已核验")
    expect(row).to_contain_text("律所管理员")
    expect(row).to_contain_text("11012019112345678")
    steps.shot(supervisor, "verification-history")


def test_the_operator_verifies_what_a_firm_admin_submitted_from_the_verification_queue(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    name = f"待核律师 {uuid.uuid4().hex[:4]}"
    lawyer_id = new_lawyer(api, name, 3)

    page = staff_page(browser, portal_url, FIRM_ADMIN)
    page.get_by_role("link", name="律所管理").click()
    card = page.locator(f"#lawyer-{lawyer_id}")
    inspection = (date.today() + timedelta(days=200)).isoformat()
    fill_credentials(card, "11012018112345678", inspection, "3")
    expect(card.locator(".verification")).to_have_text("待核验")

    operator = staff_page(browser, portal_url, "operator@demo.counsel.test")
    operator.get_by_role("link", name="资质核验").click()
    expect(operator.get_by_role("heading", level=1)).to_have_text("待核验的律师资质")
    queued = operator.locator(f"#lawyer-{lawyer_id}")
    expect(queued.locator("h2")).to_contain_text(name)
    expect(queued).to_contain_text("11012018112345678")
    expect(queued).to_contain_text(inspection)
    steps.shot(operator, "verification-queue")
    queued.get_by_label("核验通过").check()
    queued.get_by_label("核验了哪些内容").fill(NOTES)
    queued.get_by_role("button", name="记录核验").click()
    expect(operator.locator(f"#lawyer-{lawyer_id}")).to_have_count(0)  # left the queue

    page.reload()
    card = page.locator(f"#lawyer-{lawyer_id}")
    expect(card.locator(".verification")).to_have_text("已核验")
    card.get_by_role("button", name=f"启用 {name}").click()
    expect(card.locator("h3")).to_contain_text("已上线")
    operator.goto(f"/lawyers/{lawyer_id}/verifications")
    row = operator.locator("#verification-history tbody tr").first
    expect(row).to_contain_text(NOTES)
    expect(row).to_contain_text("平台运营")
    steps.shot(operator, "verified-by-the-operator")
