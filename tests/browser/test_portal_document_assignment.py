"""An agent assigns, in the portal, a document order nobody has passed the field of (R-DOC-3, §9.4): while the one
lawyer who passed tax takes no work, a paid tax-compliance order waits; the agent finds it from the workbench with
why it waits in Chinese, picks a contract lawyer, is asked beside the field for the reason the API requires, and
assigns it with one."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Browser, expect

from services.catalog.seed import demo_lawyers
from tests.browser.support import Steps, staff_page
from tests.e2e.test_document_order_journey import TAX_REQUIREMENTS, paid_order
from tests.e2e.test_onboarding_journey import OPERATOR, invite_admin
from tests.support.journeys import login, wait_for

AGENT = "agent@demo.counsel.test"


def test_an_agent_assigns_an_order_nobody_has_passed_the_field_of_with_a_reason(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    agent_api = login(api, AGENT)
    (tax_lawyer,) = (lawyer for lawyer in demo_lawyers() if "tax" in lawyer.fields)
    contract_lawyer = next(lawyer for lawyer in demo_lawyers() if "contract" in lawyer.fields)
    firm_admin = invite_admin(api, login(api, OPERATOR), tax_lawyer.firm_id)

    def paid_tax_order() -> dict:
        return paid_order(api, agent_api, "doc-tax-compliance", TAX_REQUIREMENTS)

    deactivated = api.post(f"/api/v1/lawyers/{tax_lawyer.id}/deactivate", headers=firm_admin)
    assert deactivated.status_code == 200, deactivated.text
    try:
        # The documents roster hears of the deactivation through `lawyer.changed`.
        def unassigned() -> dict | None:
            order = paid_tax_order()
            return order if order["assigned_lawyer_id"] is None else None

        order = wait_for(unassigned)
        agent = staff_page(browser, portal_url, AGENT)
        agent.get_by_role("link", name="待指派律师的文书订单").click()
        expect(agent.get_by_role("heading", name="待指派律师的文书订单", level=1)).to_be_visible()
        row = agent.get_by_role("row").filter(has=agent.locator(f'a[href="/work/assignments/{order["id"]}"]'))
        expect(row.locator(".reason")).to_have_text(
            "尚无通过「税务」领域考核的可用律师，等待客服指派（领域依据：所购产品）"
        )
        steps.shot(agent, "agent-orders-waiting-for-a-lawyer")
        row.get_by_role("link", name=re.compile("^指派律师")).click()
        agent.get_by_label("律师", exact=True).select_option(contract_lawyer.user_id)
        agent.get_by_role("button", name="指派", exact=True).click()
        # The API asks for the override reason: said beside it, the choice kept.
        expect(agent.locator("#override_reason-error")).to_contain_text("has not passed tax")
        expect(agent.get_by_label("律师", exact=True)).to_have_value(contract_lawyer.user_id)
        steps.shot(agent, "agent-asked-for-the-override-reason")
        agent.get_by_label(re.compile("^指派理由")).fill("客户长期合作律师，涉税条款另请税务律师复核")
        agent.get_by_role("button", name="指派", exact=True).click()
        expect(agent).to_have_url(re.compile(f"/documents/{order['id']}$"))
        steps.shot(agent, "agent-assigned")
        assigned = api.get(f"/api/v1/document-orders/{order['id']}", headers=agent_api).json()
        assert assigned["assigned_lawyer_id"] == contract_lawyer.user_id
        assert assigned["assignment_reason"].startswith(f"override by an agent: {contract_lawyer.user_id}")
    finally:
        activated = api.post(f"/api/v1/lawyers/{tax_lawyer.id}/activate", headers=firm_admin)
        assert activated.status_code == 200, activated.text
        # Back on the roster before another journey asks for a tax lawyer.
        wait_for(lambda: paid_tax_order()["assigned_lawyer_id"] == tax_lawyer.user_id, timeout=30)
