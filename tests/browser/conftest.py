"""End-to-end fixtures: the system's Chromium driven by Playwright against the real proxy
(on a loopback socket) in front of the fake upstream.

One browser serves the whole session; each test opens fresh contexts (their own
sessionStorage). Browser tests run on the session's event loop, which the browser lives
on, so their servers are started by the fixtures here rather than the function-loop ones
of ``tests/conftest.py``. Without the browser these tests fail loudly: CI installs it
(``.ci/run``); ``make unit`` leaves them out.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, ViewportSize, async_playwright

from gemini_proxy.app import create_app, start_server
from gemini_proxy.config import Settings
from gemini_proxy.fake_upstream.runner import start_fake_upstream
from gemini_proxy.fake_upstream.scenario import FakeConfig, Rule
from tests.browser.dashboard_page import DashboardPage, Stack
from tests.conftest import RunningProxy, make_settings

CHROMIUM = Path(os.environ.get("GEMINI_PROXY_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAPTOP: ViewportSize = {"width": 1366, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

StackFactory = Callable[..., Awaitable[Stack]]
DashboardFactory = Callable[..., Awaitable[DashboardPage]]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The browser binary; its absence fails the tests (they never skip)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not at {CHROMIUM}: install it (apt-get install chromium; .ci/run does) "
            "or point GEMINI_PROXY_CHROMIUM at it. Browser tests do not skip.",
            pytrace=False,
        )
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Headless Chromium for the session (Playwright gives it a fresh profile directory)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(chromium), args=LAUNCH_ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def stack_factory() -> AsyncIterator[StackFactory]:
    """Start a fake upstream with ``rules`` and a proxy in front of it: section overrides as in
    ``make_settings``, or ``settings(fake_url)``; all are closed at the end of the test."""
    started: list[Stack] = []

    async def start(
        *rules: Rule, settings: Callable[[str], Settings] | None = None, **sections: Any
    ) -> Stack:
        fake = await start_fake_upstream(FakeConfig(rules=rules))
        log = io.StringIO()
        if settings is not None:
            chosen = settings(fake.url)
        else:
            chosen = make_settings(upstream={"base_url": fake.url}, **sections)
        app = create_app(chosen, rng=random.Random(7), log_stream=log)
        runner, port = await start_server(app)
        stack = Stack(RunningProxy(f"http://127.0.0.1:{port}", app, runner, log), fake)
        started.append(stack)
        return stack

    yield start
    for stack in started:
        await stack.proxy.runner.cleanup()
        await stack.fake.close()


@pytest_asyncio.fixture(loop_scope="session")
async def dashboard_factory(browser: Browser) -> AsyncIterator[DashboardFactory]:
    """Open the dashboard of a stack in a fresh browser context. At the end, every page must
    have run without a script error, a refused load or a Content-Security-Policy violation."""
    pages: list[DashboardPage] = []

    async def open_page(
        stack: Stack,
        *,
        viewport: ViewportSize = LAPTOP,
        color_scheme: str = "light",
        refresh_s: int | None = None,
    ) -> DashboardPage:
        context = await browser.new_context(
            viewport=viewport,
            color_scheme=color_scheme,  # type: ignore[arg-type]
            reduced_motion="reduce",
        )
        dashboard = DashboardPage(await context.new_page(), stack.proxy.url)
        pages.append(dashboard)
        await dashboard.open(refresh_s)
        return dashboard

    yield open_page
    problems = [problem for dashboard in pages for problem in dashboard.problems]
    for dashboard in pages:
        await dashboard.page.context.close()
    if problems:
        pytest.fail("the page reported problems:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/`` at the repository root (gitignored), for screenshots."""
    path = Path(__file__).resolve().parents[2] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
