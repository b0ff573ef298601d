"""An online call in the portal (§6.2.4.1, R-BK-3): a client calls an online lawyer by video from the lawyers
page, the lawyer answers from the workbench, and media flows both ways over WebRTC between two Chromium
contexts with fake cameras and microphones, once the client has bought and paid the phone consultation the
call page asked for; a third user opening the call page is refused (4403) and reads none
of the signalling; the client hangs up and the call record is kept."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.browser.support import CHROMIUM, Steps, pay_in_the_sandbox, register_client, staff_page
from tests.support.journeys import login

# A camera and a microphone for the test: Chromium grants them without asking and feeds a test pattern and a
# tone, so media really flows.
MEDIA_FLAGS = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")
# lawyer-4 of the demo seed, online.
LAWYER_EMAIL, LAWYER_NAME = "lawyer4@demo.counsel.test", "赵敏 Zhao Min"
STRANGER_EMAIL = "lawyer1@demo.counsel.test"
MEDIA_TIMEOUT_MS = 30_000
RECEIVING = "() => Number(document.getElementById('call').dataset.bytesReceived || 0) > 0"
# Opens the call's signalling socket as this page's user and gives back every frame it read and its close code.
READ_SIGNALLING = """(path) => new Promise((resolve) => {
  const frames = [];
  const socket = new WebSocket(`ws://${location.host}${path}`);
  socket.addEventListener("message", (event) => frames.push(event.data));
  socket.addEventListener("close", (event) => resolve({ frames, code: event.code }));
})"""


@pytest.fixture(scope="module")
def media_browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", *MEDIA_FLAGS])
    yield browser
    browser.close()


def with_media(page: Page) -> Page:
    page.context.grant_permissions(["camera", "microphone"])
    return page


def test_a_client_calls_an_online_lawyer_by_video_and_a_third_user_cannot_join(
    media_browser: Browser, portal_url: str, api: httpx.Client, steps: Steps
) -> None:
    client = with_media(register_client(media_browser, portal_url, api, steps, "通话测试有限公司"))
    client.goto("/lawyers")
    calling = client.get_by_role("form", name=f"与{LAWYER_NAME}语音/视频通话")
    steps.shot(client, "client-sees-the-online-lawyer")
    calling.get_by_role("button", name="视频通话").click()
    expect(client.locator("#call-refused")).to_contain_text("consult-phone")
    steps.shot(client, "client-is-asked-to-buy-a-phone-consultation")
    client.get_by_role("link", name="购买电话咨询").click()
    expect(client).to_have_url(re.compile(r"/products/consult-phone$"))
    client.get_by_role("button", name="提交订单").click()
    pay_in_the_sandbox(client, steps, "client-phone-consultation-paid")

    client.goto("/lawyers")
    client.get_by_role("form", name=f"与{LAWYER_NAME}语音/视频通话").get_by_role(
        "button", name="视频通话"
    ).click()
    expect(client).to_have_url(re.compile(r"/calls/[^/]+$"))
    expect(client.locator("#call-status")).to_have_text("等待律师接听")
    call_id = client.url.rsplit("/", 1)[1]
    steps.shot(client, "client-rings")

    lawyer = with_media(staff_page(media_browser, portal_url, LAWYER_EMAIL))
    ringing = lawyer.locator("#ringing-calls")
    expect(ringing).to_contain_text("视频通话")
    steps.shot(lawyer, "lawyer-sees-the-call-ringing")
    ringing.get_by_role("button", name="接听").click()
    expect(lawyer).to_have_url(re.compile(f"/calls/{call_id}$"))

    for page in (client, lawyer):
        page.wait_for_function(RECEIVING, timeout=MEDIA_TIMEOUT_MS)
        assert page.evaluate("() => document.getElementById('call').dataset.connectionState") == "connected"
        expect(page.locator("#call-status")).to_have_text("通话中")
    steps.shot(client, "client-in-the-call")
    steps.shot(lawyer, "lawyer-in-the-call")

    stranger = staff_page(media_browser, portal_url, STRANGER_EMAIL)
    stranger.goto(f"/calls/{call_id}")
    expect(stranger.locator("#call-error")).to_have_text("您不是这次通话的参与方，无法加入。")
    steps.shot(stranger, "a-third-user-is-refused")
    read = stranger.evaluate(READ_SIGNALLING, f"/calls/{call_id}/signal")
    assert read == {"frames": [], "code": 4403}

    client.get_by_label("通话结果").fill("已说明维权步骤")
    client.get_by_role("button", name="结束通话").click()
    expect(client.locator("#call-status")).to_have_text("已结束")
    expect(lawyer.locator("#call-error")).to_have_text("对方已挂断。")
    steps.shot(client, "client-hung-up")
    record = api.get(f"/api/v1/calls/{call_id}", headers=login(api, LAWYER_EMAIL)).json()
    assert (record["status"], record["ended_by"], record["outcome"]) == ("ended", "client", "已说明维权步骤")
    assert record["started_at"] is not None and record["order_id"]
