"""The dashboard on a laptop and a phone, light and dark: screenshots saved as test artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import ViewportSize, expect

from gemini_proxy.fake_upstream.scenario import Behavior, Rule
from tests.browser.conftest import LAPTOP, PHONE, DashboardFactory, StackFactory
from tests.conftest import ADMIN_TOKEN, KEYS

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


class TestLooks:
    async def test_laptop_and_phone_light_and_dark(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory, artifacts: Path
    ) -> None:
        """Each variant fits its width without sideways scrolling and follows the colour scheme."""
        stack = await stack_factory(
            Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE, retry_delay_s=120),
            Rule(key_prefix=KEYS[1], behavior=Behavior.INVALID_KEY),
        )
        await stack.traffic(8)
        backgrounds: dict[str, str] = {}
        devices: list[tuple[str, ViewportSize]] = [("laptop", LAPTOP), ("phone", PHONE)]
        for scheme in ("light", "dark"):
            for device, viewport in devices:
                dashboard = await dashboard_factory(stack, viewport=viewport, color_scheme=scheme)
                await dashboard.sign_in(ADMIN_TOKEN)
                await dashboard.signed_in()
                page = dashboard.page
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, (scheme, device, overflow)
                header = page.locator("#keys-table thead")
                await (expect(header).to_be_hidden() if device == "phone" else expect(header).to_be_visible())
                backgrounds[scheme] = await page.evaluate("getComputedStyle(document.body).backgroundColor")
                await page.screenshot(path=artifacts / f"dashboard-{scheme}-{device}.png", full_page=True)
                await page.context.close()
        assert backgrounds["light"] != backgrounds["dark"]
