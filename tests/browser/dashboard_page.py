"""The dashboard as the tests see it: a page object over Playwright, and the servers behind it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import aiohttp
from playwright.async_api import ConsoleMessage, Locator, Page, Request, expect

from gemini_proxy.fake_upstream.runner import RunningFake
from tests.conftest import CLIENT_TOKEN, RunningProxy

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
# The page handles these answers itself (a wrong token, a refused reload); Chromium still
# logs each failed load on the console.
_EXPECTED_LOAD_ERROR = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d")


@dataclass
class Stack:
    """A proxy and the fake upstream behind it."""

    proxy: RunningProxy
    fake: RunningFake

    async def traffic(self, n: int) -> list[int]:
        """Send ``n`` generateContent requests through the proxy, one after another."""
        statuses = []
        async with aiohttp.ClientSession() as session:
            for _ in range(n):
                async with session.post(
                    f"{self.proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
                ) as response:
                    await response.read()
                    statuses.append(response.status)
        return statuses


class DashboardPage:
    """One browser tab on ``/admin/ui``; ``problems`` collects script errors and refusals."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.problems: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("request", self._request)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") and not _EXPECTED_LOAD_ERROR.match(message.text):
            self.problems.append(f"console {message.type}: {message.text}")

    def _request(self, request: Request) -> None:
        self.requests.append(request.url.removeprefix(self.base_url))

    async def open(self, refresh_s: int | None = None) -> None:
        query = f"?refresh={refresh_s}" if refresh_s else ""
        await self.page.goto(f"{self.base_url}/admin/ui{query}")
        await expect(self.page.locator("#signin-form")).to_be_visible()

    # -- session -----------------------------------------------------------------------

    async def sign_in(self, token: str) -> None:
        """Type the token and press Enter (the keyboard path)."""
        await self.page.locator("#token").fill(token)
        await self.page.locator("#token").press("Enter")

    async def signed_in(self) -> None:
        await expect(self.page.locator("#dashboard")).to_be_visible()
        await expect(self.page.locator("#keys-body tr[data-key-id]").first).to_be_visible()

    async def stored_token(self) -> str | None:
        value = await self.page.evaluate("sessionStorage.getItem('gemini-proxy.admin-token')")
        return value if isinstance(value, str) else None

    # -- the key table -----------------------------------------------------------------

    @property
    def rows(self) -> Locator:
        return self.page.locator("#keys-body tr[data-key-id]")

    def row(self, name: str) -> Locator:
        """The table row of the key called ``name``."""
        return self.rows.filter(
            has=self.page.locator(".key-name", has_text=re.compile(f"^{re.escape(name)}$"))
        )

    def cell(self, name: str, label: str) -> Locator:
        """A cell of a row by its column label (``State``, ``Requests``...)."""
        return self.row(name).locator(f'td[data-label="{label}"]')

    async def shown_names(self) -> list[str]:
        return await self.rows.locator(".key-name").all_inner_texts()

    async def states(self) -> dict[str, str]:
        """Each shown key's state, as its badge says it."""
        names = await self.shown_names()
        badges = await self.rows.locator(".badge").evaluate_all("nodes => nodes.map(n => n.dataset.state)")
        return dict(zip(names, badges, strict=True))

    async def act(self, name: str, verb: str) -> None:
        """Press a row's button by its accessible name (``Disable key-3``)."""
        await self.row(name).get_by_role("button", name=f"{verb} {name}", exact=True).click()

    async def confirm(self, expected_title: str, reason: str | None = None) -> None:
        dialog = self.page.locator("#confirm-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator("#confirm-title")).to_have_text(expected_title)
        if reason is not None:
            await dialog.get_by_label("Reason (optional)").fill(reason)
        await dialog.locator("#confirm-ok").click()
        await expect(dialog).to_be_hidden()
