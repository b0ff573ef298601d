"""A client's services beyond an order's documents, in Chinese on a phone: a meeting booked in the lawyer's
availability calendar, paid, moved and cancelled with the refund the terms give (the lawyer sees it in their
calendar meanwhile); the chat dialog box, answered by the FAQ at once and then live by an agent working the
queue with the client's purchase intent; a paid professional consultation; a complaint the agent resolves,
reopened by the client and accepted the second time."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Browser, expect

from tests.browser.support import ASYNC_TIMEOUT_MS, Steps, pay_in_the_sandbox, register_client, staff_page

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOOKED_LAWYER = "lawyer3@demo.counsel.test"
# On duty around the clock (services/catalog/seed.py ON_CALL) and booked by no other journey: the first free
# start of their calendar is within the next 30 minutes, when the lawyer may already check in.
ON_CALL_LAWYER = ("lawyer-5", "lawyer5@demo.counsel.test")


def test_a_client_books_pays_moves_and_cancels_a_meeting_with_its_refund(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    client = register_client(browser, portal_url, api, steps, "预约测试有限公司")
    client.goto("/products/booking-at-firm")
    client.get_by_role("link", name="选择律师和时段").click()
    client.get_by_label("律师").select_option("lawyer-3")
    client.get_by_role("button", name="查看可约时段").click()
    # The calendar's last day: more than 24 h ahead, so cancelling is free and refunds the whole price.
    client.locator(".calendar .day").last.locator("input[name=start]").first.check()
    client.get_by_label("需求说明").fill("劳动合同续签与竞业限制")
    steps.shot(client, "client-picks-a-slot")
    client.get_by_role("button", name="预留并下单").click()
    expect(client.locator("#order-status")).to_have_text("待支付")
    pay_in_the_sandbox(client, steps, "client-booking-paid-with-voucher")
    client.get_by_role("link", name="查看预约").click()
    expect(client.locator("#booking-status")).to_have_text("已确认", timeout=ASYNC_TIMEOUT_MS)
    booking_id = client.url.rsplit("/", 1)[1]
    steps.shot(client, "client-booking-confirmed")

    # The booked lawyer finds it in their calendar.
    lawyer = staff_page(browser, portal_url, BOOKED_LAWYER)
    lawyer.get_by_role("link", name="预约日程").click()
    lawyer.locator(f'a[href="/bookings/{booking_id}"]').click()
    expect(lawyer.locator("#booking-status")).to_have_text("已确认")
    steps.shot(lawyer, "lawyer-calendar-booking")

    # Moves it to another free time of the same lawyer, then cancels it: the refund is the whole price.
    client.reload()
    booked_at = client.locator("#booking-time").inner_text()
    client.locator(".calendar .day").nth(-2).locator("input[name=start]").first.check()
    client.get_by_role("button", name="改到所选时段").click()
    expect(client.get_by_role("alert")).to_have_count(0)
    expect(client.locator("#booking-time")).not_to_have_text(booked_at)
    expect(client.locator("#booking-status")).to_have_text("已确认")
    client.get_by_label("取消原因").fill("行程有变")
    client.get_by_role("button", name="取消预约").click()
    expect(client.locator("#booking-status")).to_have_text("已取消")
    expect(client.locator("#booking-refund")).to_have_text("¥599.00")
    steps.shot(client, "client-booking-cancelled-with-refund")
    client.get_by_role("link", name="查看订单").click()
    expect(client.locator("#order-status")).to_have_text("已退款", timeout=ASYNC_TIMEOUT_MS)


def test_a_meeting_starting_now_is_checked_in_completed_checked_rated_and_followed_by_a_visit(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    """R-BK-1 and §6.1.1.2 offline: the lawyer checks in (it opens 30 minutes before the start), completes the
    meeting with its summary and confirms the quality checklist; the client rates it; the lawyer records a
    visit to the client's enterprise from the booking."""
    lawyer_id, lawyer_email = ON_CALL_LAWYER
    client = register_client(browser, portal_url, api, steps, "线下会谈测试有限公司")
    client.goto("/products/booking-at-firm")
    client.get_by_role("link", name="选择律师和时段").click()
    client.get_by_label("律师").select_option(lawyer_id)
    client.get_by_role("button", name="查看可约时段").click()
    client.locator(".calendar input[name=start]").first.check()
    client.get_by_label("时长（分钟）").select_option(
        "30"
    )  # the first start may leave only that before midnight
    client.get_by_label("需求说明").fill("股权激励方案的当面沟通")
    client.get_by_role("button", name="预留并下单").click()
    pay_in_the_sandbox(client, steps, "client-meeting-paid")
    client.get_by_role("link", name="查看预约").click()
    expect(client.locator("#booking-status")).to_have_text("已确认", timeout=ASYNC_TIMEOUT_MS)
    booking_id = client.url.rsplit("/", 1)[1]

    lawyer = staff_page(browser, portal_url, lawyer_email)
    lawyer.goto(f"/bookings/{booking_id}")
    lawyer.get_by_role("button", name="签到").click()
    expect(lawyer.get_by_role("alert")).to_have_count(0)
    lawyer.get_by_label("会谈纪要").fill("讨论了期权池规模与行权条件，约定一周内提交方案初稿。")
    steps.shot(lawyer, "lawyer-checked-in")
    lawyer.get_by_role("button", name="完成会谈").click()
    expect(lawyer.locator("#booking-status")).to_have_text("已完成")
    for item in ("已核实身份", "已了解需求", "已给出意见", "已说明风险"):
        lawyer.get_by_label(item).check()
    lawyer.get_by_role("button", name="提交质量清单").click()
    expect(lawyer.get_by_role("heading", name="质量清单")).to_be_visible()
    expect(lawyer.locator("li", has_text="已约定后续")).to_contain_text("✗")
    steps.shot(lawyer, "lawyer-meeting-completed-with-checklist")

    client.reload()
    expect(client.locator("#booking-status")).to_have_text("已完成")
    client.get_by_label("评价").fill("律师准备充分，解释清楚")
    client.get_by_role("button", name="提交评分").click()
    expect(client.get_by_text("★ 5")).to_be_visible()
    steps.shot(client, "client-meeting-rated")

    lawyer.reload()
    lawyer.get_by_role("link", name="记录拜访").click()
    lawyer.get_by_label("日期").fill(datetime.now(SHANGHAI).date().isoformat())
    lawyer.get_by_label("发现").fill("员工手册未载明加班审批流程")
    lawyer.get_by_label("后续事项（每行一项）").fill("修订员工手册\n培训人事专员")
    lawyer.get_by_role("button", name="保存拜访").click()
    recorded = lawyer.locator(".card", has_text="员工手册未载明加班审批流程")
    expect(recorded).to_contain_text("修订员工手册")
    steps.shot(lawyer, "lawyer-visit-recorded")


def test_the_chat_answers_an_faq_at_once_then_an_agent_answers_live(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    client = register_client(browser, portal_url, api, steps, "在线客服测试有限公司")
    client.get_by_role("link", name="在线客服").click()
    client.get_by_label("您的问题").fill("专业咨询怎么收费？")
    client.get_by_role("button", name="发送", exact=True).click()
    expect(client.locator(".message.faq")).to_be_visible()
    steps.shot(client, "client-chat-faq-answer")
    client.get_by_label("您的问题").fill("公司拖欠我三个月工资还要辞退我，我该怎么维权？")
    client.get_by_role("button", name="发送并转人工").click()
    expect(client.locator("#chat-status")).to_have_text("排队等待客服")
    conversation_id = client.url.rsplit("/", 1)[1]

    agent = staff_page(browser, portal_url, "agent@demo.counsel.test")
    agent.get_by_role("link", name="在线会话").click()
    waiting = agent.locator(".card", has=agent.locator(f'a[href="/work/chat/{conversation_id}"]'))
    expect(waiting.locator(".intent")).to_contain_text("购买意向")
    steps.shot(agent, "agent-chat-queue")
    waiting.get_by_role("link").click()
    agent.get_by_role("button", name="接入会话").click()
    agent.get_by_label("回复").fill("您好，我是客服，请问劳动合同还在吗？")
    agent.get_by_role("button", name="发送", exact=True).click()
    steps.shot(agent, "agent-chat-conversation")

    # The client's page shows the agent's reply without a reload: the portal relays the chat socket.
    expect(client.locator(".message.agent")).to_contain_text("劳动合同还在吗", timeout=ASYNC_TIMEOUT_MS)
    expect(client.locator("#chat-status")).to_have_text("客服服务中")
    steps.shot(client, "client-chat-agent-live")


def test_a_paid_professional_consultation_and_a_complaint_the_agent_resolves(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    client = register_client(browser, portal_url, api, steps, "专业咨询测试有限公司")
    client.goto("/products/consult-professional")
    client.get_by_role("button", name="提交订单").click()
    pay_in_the_sandbox(client, steps, "client-consultation-order-paid")
    client.reload()  # the consultation's form is outside the part of the page that refreshes itself
    client.get_by_label("标题").fill("股权转让的税务问题")
    client.get_by_label("问题").fill("自然人股东平价转让股权，税务机关会核定转让收入吗？")
    client.get_by_role("button", name="提交咨询").click()
    expect(client).to_have_url(re.compile(r"/consultations/"))
    steps.shot(client, "client-professional-consultation")

    client.get_by_text("投诉", exact=True).click()
    client.get_by_label("投诉内容").fill("客服电话一直无人接听")
    client.get_by_role("button", name="提交投诉").click()
    client.get_by_role("link", name="查看我的投诉").click()
    expect(client.locator(".complaint-status").first).to_have_text("处理中")
    steps.shot(client, "client-complaint-filed")

    agent = staff_page(browser, portal_url, "agent@demo.counsel.test")
    agent.get_by_role("link", name="投诉", exact=True).click()
    filed = agent.locator(".card", has_text="客服电话一直无人接听").first
    filed.get_by_role("button", name="受理").click()
    filed = agent.locator(".card", has_text="客服电话一直无人接听").first
    filed.get_by_label("处理结果").fill("已安排专人回电并致歉")
    filed.get_by_role("button", name="办结").click()
    steps.shot(agent, "agent-complaint-resolved")

    client.reload()
    expect(client.locator(".complaint-status").first).to_have_text("已解决")
    steps.shot(client, "client-complaint-resolved")

    # The client reopens the resolution with a reason; the agent resolves it again; the client accepts.
    mine = client.locator(".card", has_text="客服电话一直无人接听").first
    mine.get_by_label("重新打开的原因").fill("回电后问题仍未解决")
    mine.get_by_role("button", name="重新打开").click()
    expect(client.locator(".complaint-status").first).to_have_text("已重新打开")
    agent.reload()
    filed = agent.locator(".card", has_text="客服电话一直无人接听").first
    filed.get_by_label("处理结果").fill("主管已回电并解决")
    filed.get_by_role("button", name="办结").click()
    client.reload()
    client.locator(".card", has_text="客服电话一直无人接听").first.get_by_role(
        "button", name="接受处理结果"
    ).click()
    expect(client.locator(".complaint-status").first).to_have_text("已结束")
    steps.shot(client, "client-complaint-accepted")


def test_a_phone_consultation_the_agent_classifies_and_bridges_to_a_lawyer(
    browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    """R-CON-3 and R-CS-1: a paid phone consultation; the agent corrects its legal field by hand, bridges the
    call to a lawyer and ends it with its outcome; the client reads the notification the platform sent."""
    client = register_client(browser, portal_url, api, steps, "电话咨询测试有限公司")
    client.goto("/products/consult-phone")
    client.get_by_role("button", name="提交订单").click()
    pay_in_the_sandbox(client, steps, "client-phone-consultation-paid")
    client.reload()
    client.get_by_label("标题").fill("劳务派遣用工比例")
    client.get_by_label("问题").fill("我们公司被派遣员工占了一半，需要整改吗？")
    client.get_by_role("button", name="提交咨询").click()
    expect(client).to_have_url(re.compile(r"/consultations/"))
    consultation_path = client.url.removeprefix(portal_url)

    agent = staff_page(browser, portal_url, "agent@demo.counsel.test")
    agent.goto(consultation_path)
    agent.get_by_label("人工分类").select_option("labour")
    agent.get_by_role("button", name="保存分类").click()
    expect(agent.get_by_role("alert")).to_have_count(0)
    expect(agent.get_by_label("人工分类")).to_have_value("labour")
    agent.get_by_role("button", name="电话转接").click()
    agent.get_by_label("通话结果").fill("律师已解答派遣比例上限为百分之十")
    steps.shot(agent, "agent-phone-bridge-connected")
    agent.get_by_role("button", name="结束通话").click()
    expect(agent.get_by_role("button", name="电话转接")).to_be_visible()
    steps.shot(agent, "agent-phone-bridge-ended")

    client.get_by_role("link", name="消息").click()
    unread = client.locator(".card.unread")
    expect(unread.first).to_be_visible(timeout=ASYNC_TIMEOUT_MS)
    before = unread.count()
    unread.first.get_by_role("button", name="标为已读").click()
    expect(client.locator(".card.unread")).to_have_count(before - 1)
    steps.shot(client, "client-notification-read")
