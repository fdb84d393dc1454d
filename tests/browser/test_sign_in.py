"""Signing in to the dashboard with the admin token, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from tests.browser.conftest import DashboardFactory, StackFactory
from tests.conftest import ADMIN_TOKEN

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


class TestSignIn:
    async def test_wrong_token_then_right_token(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """A wrong token is refused with a clear message; the right one opens the dashboard."""
        dashboard = await dashboard_factory(await stack_factory())
        page = dashboard.page
        await expect(page.locator("#token")).to_be_focused()
        await dashboard.sign_in("wrong-token-000000000")
        await expect(page.locator("#signin-error")).to_have_text(re.compile("token was not accepted"))
        await expect(page.locator("#token")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#dashboard")).to_be_hidden()
        assert await dashboard.stored_token() is None

        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        await expect(page.locator("#stat-total")).to_have_text("4")
        assert await dashboard.rows.count() == 4
        assert await dashboard.stored_token() == ADMIN_TOKEN
        assert await page.evaluate("localStorage.length") == 0
        assert await page.context.cookies() == []

    async def test_nothing_is_fetched_or_shown_before_signing_in(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Before a token is given the page calls no admin API and shows no key."""
        dashboard = await dashboard_factory(await stack_factory())
        await dashboard.page.wait_for_load_state("networkidle")
        assert dashboard.requests and all(path.startswith("/admin/ui") for path in dashboard.requests)
        await expect(dashboard.page.locator("#dashboard")).to_be_hidden()
        assert await dashboard.rows.count() == 0

    async def test_token_is_sent_as_a_bearer_header_only(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Admin calls carry the token in Authorization, never in the URL."""
        dashboard = await dashboard_factory(await stack_factory())
        async with dashboard.page.expect_request(re.compile(r"/admin/pool$")) as caught:
            await dashboard.sign_in(ADMIN_TOKEN)
        request = await caught.value
        assert await request.header_value("authorization") == f"Bearer {ADMIN_TOKEN}"
        await dashboard.signed_in()
        assert not [path for path in dashboard.requests if ADMIN_TOKEN in path]

    async def test_log_out_forgets_the_token(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """Logging out clears the token and the data; reopening the page asks for the token again."""
        dashboard = await dashboard_factory(await stack_factory())
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        await dashboard.page.get_by_role("button", name="Log out").click()
        await expect(dashboard.page.locator("#signin-form")).to_be_visible()
        assert await dashboard.stored_token() is None
        assert await dashboard.rows.count() == 0
        await dashboard.page.reload()
        await expect(dashboard.page.locator("#signin-form")).to_be_visible()
        await expect(dashboard.page.locator("#dashboard")).to_be_hidden()

    async def test_signed_in_tab_survives_a_reload(
        self, stack_factory: StackFactory, dashboard_factory: DashboardFactory
    ) -> None:
        """The token is kept for the tab (sessionStorage): a reload stays signed in."""
        dashboard = await dashboard_factory(await stack_factory())
        await dashboard.sign_in(ADMIN_TOKEN)
        await dashboard.signed_in()
        await dashboard.page.reload()
        await dashboard.signed_in()
