"""The pool summary and the key table after scripted traffic, in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from gemini_proxy.fake_upstream.scenario import Behavior, Rule
from tests.browser.conftest import DashboardFactory, StackFactory
from tests.conftest import ADMIN_TOKEN, KEYS

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LIMITED_AND_INVALID = (
    Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE, retry_delay_s=120),
    Rule(key_prefix=KEYS[1], behavior=Behavior.INVALID_KEY),
)


class TestKeyTable:
    async def test_every_key_is_listed_in_its_state(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory, artifacts: Path
    ) -> None:
        """After a 429 on one key and a rejection of another, the table shows each key's state."""
        stack = await stack_factory(
            *LIMITED_AND_INVALID,
            keys=[
                {"key": KEYS[0], "name": "key-1"},
                {"key": KEYS[1], "name": "key-2"},
                {"key": KEYS[2], "name": "key-3", "limits": {"rpm": 10, "rpd": 100}},
                {"key": KEYS[3], "name": "key-4", "project": "team-a"},
            ],
        )
        assert await stack.traffic(8) == [200] * 8
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        page = dashboard.page

        assert await dashboard.states() == {
            "key-1": "cooling",
            "key-2": "disabled",
            "key-3": "active",
            "key-4": "active",
        }
        await expect(dashboard.cell("key-1", "State")).to_have_text("Cooling")
        await expect(dashboard.cell("key-1", "Cooldowns")).to_have_text(
            re.compile(r"gemini-2\.5-flash\s*in \dm \d\ds")
        )
        await expect(dashboard.cell("key-2", "State")).to_contain_text("API_KEY_INVALID")
        await expect(dashboard.cell("key-1", "Last error")).to_contain_text("ago")
        await expect(dashboard.cell("key-3", "Limits")).to_contain_text("rpm")
        await expect(dashboard.row("key-4")).to_contain_text("team-a")
        await expect(dashboard.row("key-1")).to_contain_text("AIza...wx01")
        # The summary at the top.
        counts = page.locator("#state-counts")
        await expect(counts.get_by_role("button", name=re.compile("^Cooling: 1 key\\."))).to_be_visible()
        await expect(counts.get_by_role("button", name=re.compile("^Disabled: 1 key\\."))).to_be_visible()
        await expect(counts.get_by_role("button", name=re.compile("^Active: 2 keys\\."))).to_be_visible()
        await expect(page.locator("#stat-store")).to_have_text("memory")
        await expect(page.locator("#stat-recovery")).to_have_text(re.compile(r"in \dm \d\ds"))
        await expect(page.locator("#models-body")).to_contain_text("gemini-2.5-flash")
        await expect(page.locator("#pool-charts .chart-limited")).to_have_attribute(
            "aria-label", re.compile("1 in all")
        )
        html = await page.content()
        assert not [key for key in KEYS if key in html]
        await page.screenshot(path=artifacts / "dashboard.png", full_page=True)

    async def test_filter_and_sort(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Text and state filters narrow the rows; a column header sorts them both ways."""
        stack = await stack_factory(*LIMITED_AND_INVALID)
        await stack.traffic(6)
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        page = dashboard.page

        await page.get_by_label("Search").fill("key-2")
        await expect(dashboard.rows).to_have_count(1)
        await page.get_by_label("Search").fill("invalid")  # matches the last error too
        assert await dashboard.shown_names() == ["key-2"]
        await page.get_by_label("Search").fill("")
        await page.get_by_label("State", exact=True).select_option("active")
        await expect(dashboard.rows).to_have_count(2)
        await page.locator("#state-counts").get_by_role("button", name=re.compile("^Cooling")).click()
        assert await dashboard.shown_names() == ["key-1"]
        await page.locator("#state-counts").get_by_role("button", name=re.compile("^Cooling")).click()
        await expect(dashboard.rows).to_have_count(4)

        key_header = page.locator("#keys-table th[data-sort=name]")
        await key_header.get_by_role("button").click()
        await expect(key_header).to_have_attribute("aria-sort", "ascending")
        assert await dashboard.shown_names() == ["key-1", "key-2", "key-3", "key-4"]
        await key_header.get_by_role("button").click()
        await expect(key_header).to_have_attribute("aria-sort", "descending")
        assert await dashboard.shown_names() == ["key-4", "key-3", "key-2", "key-1"]
        await page.locator("#keys-table th[data-sort=state]").get_by_role("button").click()
        assert (await dashboard.shown_names())[:2] == ["key-2", "key-1"]  # disabled, then cooling

    async def test_live_refresh_updates_rows_in_place(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """New traffic shows up without a reload, in the same row elements (no flicker)."""
        stack = await stack_factory()
        dashboard = await dashboard_factory(stack, refresh_s=1)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        row = await dashboard.row("key-3").element_handle()
        await expect(dashboard.cell("key-3", "Requests")).to_have_text("0")
        assert await stack.traffic(8) == [200] * 8
        await expect(dashboard.cell("key-3", "Requests")).to_have_text("2")
        await expect(dashboard.page.locator("#pool-charts .chart-requests")).to_have_attribute(
            "aria-label", re.compile("8 in all")
        )
        assert await dashboard.page.evaluate(
            "row => row.isConnected && row === document.querySelectorAll('#keys-body tr')[2]", row
        )

    async def test_detail_view_shows_errors_and_the_keys_chart(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """A key's name opens its details: cooldown, recent errors, its own chart; Escape closes it."""
        stack = await stack_factory(*LIMITED_AND_INVALID)
        await stack.traffic(6)
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        page = dashboard.page
        await page.get_by_role("button", name="Details of key-1").click()
        dialog = page.get_by_role("dialog", name="key-1")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator("#key-errors")).to_contain_text("rate limited")
        await expect(dialog.locator("#key-errors")).to_contain_text("per_minute_quota")
        await expect(dialog.locator(".chart-limited")).to_have_attribute("aria-label", re.compile("1 in all"))
        await expect(dialog.locator(".chart-requests")).to_have_attribute(
            "aria-label", re.compile("1 in all")
        )
        await expect(dialog).to_contain_text("Cooling")
        await page.keyboard.press("Escape")
        await expect(dialog).to_be_hidden()
