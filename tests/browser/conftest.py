"""The browser tier: the portal in Debian's Chromium (driven by Playwright) against the whole platform of
`counsel up` (tests/support/platform.running_platform: its own servers' data, NATS and ports). Chromium and a CJK
font are installed by `make test` (Debian packages, see the Makefile); without them this tier fails,
never skips.

Each journey saves a screenshot per step under its pytest tmp dir and checks every page of ours it shoots with
axe-core (shipped in the axe-playwright-python wheel): `Steps` in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from deploy.local.launcher import StackProcess
from deploy.local.servers import PostgresServer, TemporalDevServer
from tests.browser.support import CHROMIUM, CJK_FONT, Steps
from tests.support.journeys import no_5xx
from tests.support.platform import running_platform


@pytest.fixture(scope="package")
def portal_platform(
    postgres_server: PostgresServer,
    temporal_dev_server: TemporalDevServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[StackProcess]:
    with running_platform(
        postgres_server, temporal_dev_server, tmp_path_factory.mktemp("portal-platform")
    ) as running:
        yield running


@pytest.fixture(scope="package")
def portal_url(portal_platform: StackProcess) -> str:
    return f"http://127.0.0.1:{portal_platform.env['COUNSEL_PORTAL_PORT']}"


@pytest.fixture(scope="package")
def api(portal_platform: StackProcess) -> Iterator[httpx.Client]:
    """The gateway, for what a person reads elsewhere (the SMS with the code) and for checking the outcome."""
    with httpx.Client(
        base_url=portal_platform.base_url, timeout=30, event_hooks={"response": [no_5xx]}
    ) as client:
        yield client


# Package-scoped (tests/browser is a package for this), not session: Playwright's sync API marks an event loop as
# running in this thread while it is started, and the async tests of the other tiers need the thread without one.
# The platform too stops once the tier is done.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    missing = [str(path) for path in (CHROMIUM, CJK_FONT) if not path.exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: the browser tier needs Debian's chromium and fonts-noto-cjk "
            "(`make test` installs them as root with apt-get; or `apt-get install -y chromium fonts-noto-cjk`)",
            pytrace=False,
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def steps(tmp_path: Path) -> Steps:
    directory = tmp_path / "screenshots"
    directory.mkdir()
    return Steps(directory)
