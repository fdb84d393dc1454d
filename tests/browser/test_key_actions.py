"""Changing the pool from the dashboard, and the upstream traffic that follows."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect

from gemini_proxy.config import load_settings
from gemini_proxy.fake_upstream.scenario import Behavior, Rule
from tests.browser.conftest import DashboardFactory, StackFactory
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS
from tests.contract.admin_client import AdminClient

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

NEW_KEY = "AIzaSyBROWSER0abcdefghijklmnopqrstuvwxy"
ROTATED_ADMIN_TOKEN = "admin-token-rotated-5555"


class TestKeyActions:
    async def test_disabled_key_gets_no_more_traffic(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Disable (confirmed, with a reason) takes the key out: the upstream sees no more calls with it."""
        stack = await stack_factory()
        assert await stack.traffic(4) == [200] * 4
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        page = dashboard.page

        await dashboard.act("key-3", "Disable")  # Escape cancels: nothing changes
        await expect(page.locator("#confirm-dialog")).to_be_visible()
        await page.keyboard.press("Escape")
        await expect(page.locator("#confirm-dialog")).to_be_hidden()
        await expect(dashboard.cell("key-3", "State")).to_have_text("Active")

        await dashboard.act("key-3", "Disable")
        await dashboard.confirm("Disable key-3?", reason="noisy neighbour")
        await expect(dashboard.cell("key-3", "State")).to_contain_text("Disabled")
        await expect(dashboard.cell("key-3", "State")).to_contain_text("noisy neighbour · until enabled")
        await expect(page.locator("#action-result")).to_have_text("Disabled 1 key.")
        before = dict(stack.fake.state.requests_by_key)
        assert await stack.traffic(9) == [200] * 9
        after = stack.fake.state.requests_by_key
        assert after[KEYS[2]] == before[KEYS[2]]
        assert [after[k] - before[k] for k in (KEYS[0], KEYS[1], KEYS[3])] == [3, 3, 3]

        await dashboard.act("key-3", "Enable")  # one key: no confirmation needed
        await expect(dashboard.cell("key-3", "State")).to_have_text("Active")
        assert await stack.traffic(4) == [200] * 4
        assert stack.fake.state.requests_by_key[KEYS[2]] == before[KEYS[2]] + 1

    async def test_added_key_serves(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """A key pasted into the page joins the pool; with the others disabled in bulk it serves alone."""
        stack = await stack_factory()
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        page = dashboard.page

        await page.get_by_text("Add keys").click()
        await page.get_by_label("Keys to add").fill(f"\n{NEW_KEY} pasted key\n")
        await page.get_by_role("button", name="Add", exact=True).click()
        await expect(page.locator("#add-result")).to_contain_text("Added 1 key.")
        await expect(page.locator("#add-result")).to_contain_text("pasted key (AIza...vwxy), active")
        await expect(page.get_by_label("Keys to add")).to_have_value("")
        await expect(dashboard.row("pasted key")).to_be_visible()
        assert NEW_KEY not in await page.content()

        await page.get_by_label("Keys to add").fill(NEW_KEY)  # the same key again: refused, shown inline
        await page.get_by_role("button", name="Add", exact=True).click()
        await expect(page.locator("#add-result")).to_contain_text("Nothing was added.")
        await expect(page.locator("#add-result")).to_contain_text(
            "already in the pool (HTTP 409, key_exists)"
        )

        for name in ("key-1", "key-2", "key-3", "key-4"):
            await page.get_by_role("checkbox", name=f"Select {name}").check()
        await expect(page.locator("#selection-count")).to_have_text("4 keys selected")
        await page.locator("#bulkbar").get_by_role("button", name="Disable").click()
        await expect(page.locator("#confirm-list")).to_have_text(re.compile("key-1.*key-4", re.S))
        await dashboard.confirm("Disable 4 keys?")
        await expect(page.locator("#action-result")).to_have_text("Disabled 4 keys.")
        assert await dashboard.states() == {
            "key-1": "disabled",
            "key-2": "disabled",
            "key-3": "disabled",
            "key-4": "disabled",
            "pasted key": "active",
        }
        assert await stack.traffic(3) == [200] * 3
        assert stack.fake.state.requests_by_key[NEW_KEY] == 3
        assert sum(stack.fake.state.requests_by_key[k] for k in KEYS) == 0

    async def test_probe_and_delete_report_inline(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Probe reports what the upstream said of the key; delete (confirmed) removes the row."""
        stack = await stack_factory(Rule(key_prefix=KEYS[1], behavior=Behavior.INVALID_KEY))
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        page = dashboard.page

        await dashboard.act("key-2", "Probe")
        await expect(page.locator("#action-result")).to_contain_text("key-2: rejected by Google")
        await expect(dashboard.cell("key-2", "State")).to_contain_text("Disabled")

        await dashboard.act("key-4", "Delete")
        await dashboard.confirm("Delete key-4?")
        await expect(page.locator("#action-result")).to_have_text("Deleted 1 key.")
        await expect(dashboard.row("key-4")).to_have_count(0)
        await expect(page.locator("#stat-total")).to_have_text("3")

    async def test_refused_reload_shows_the_servers_reason(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Reload on a proxy started without a file shows the refusal and the server's own message."""
        stack = await stack_factory()
        async with aiohttp.ClientSession() as session:
            status, answer = await AdminClient(session, stack.proxy.url).post("/admin/reload")
        assert status == 409
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        await dashboard.page.get_by_role("button", name="Reload configuration").click()
        notice = dashboard.page.locator("#notice")
        await expect(notice).to_contain_text("refused to reload")
        await expect(notice).to_contain_text(f"{answer['error']['message']} (HTTP 409, no_config_file)")


def _write_config(path: Path, upstream: str, keys: list[str], admin_token: str = ADMIN_TOKEN) -> Path:
    path.write_text(
        "auth:\n"
        f"  client_tokens: [{{name: tests, token: {CLIENT_TOKEN}}}]\n"
        f"  admin_token: {admin_token}\n"
        f"upstream: {{base_url: '{upstream}'}}\n"
        "state: {path: null}\n"
        "keys:\n" + "".join(f"  - {{key: {key}, name: key-{i}}}\n" for i, key in enumerate(keys, start=1))
    )
    return path


class TestReloadConfiguration:
    async def test_reload_applies_the_file_and_reports_it(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory, tmp_path: Path
    ) -> None:
        """A key added to the file joins at reload; the page says what changed and lists it."""
        config = tmp_path / "proxy.yaml"
        stack = await stack_factory(
            settings=lambda url: load_settings(_write_config(config, url, KEYS[:3]), {})
        )
        dashboard = await dashboard_factory(stack)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        await expect(dashboard.rows).to_have_count(3)
        _write_config(config, stack.fake.url, KEYS)
        await dashboard.page.get_by_role("button", name="Reload configuration").click()
        notice = dashboard.page.locator("#notice")
        await expect(notice).to_contain_text(f"Configuration reloaded from {config}.")
        await expect(notice).to_contain_text("1 added, 0 removed, 0 changed; 4 keys in the pool.")
        await expect(dashboard.row("key-4")).to_be_visible()

    async def test_changed_admin_token_signs_the_page_out(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory, tmp_path: Path
    ) -> None:
        """Once a reload changes the admin token, the page's next call is refused and it asks again."""
        config = tmp_path / "proxy.yaml"
        stack = await stack_factory(settings=lambda url: load_settings(_write_config(config, url, KEYS), {}))
        dashboard = await dashboard_factory(stack, refresh_s=1)
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        _write_config(config, stack.fake.url, KEYS, admin_token=ROTATED_ADMIN_TOKEN)
        await dashboard.page.get_by_role("button", name="Reload configuration").click()
        await expect(dashboard.page.locator("#signin-error")).to_contain_text("no longer accepted")
        assert await dashboard.stored_token() is None
        assert await dashboard.rows.count() == 0
        await dashboard.sign_in(ROTATED_ADMIN_TOKEN)
        await dashboard.signed_in()
