"""The dashboard's static files at ``/admin/ui``: served from the package with strict security
headers, no inline code, nothing from elsewhere, and no data (no key, no token) in them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from importlib import resources

import aiohttp
import pytest
from multidict import CIMultiDict

from gemini_proxy.routes.dashboard import CONTENT_SECURITY_POLICY
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, RunningProxy

FOLDER = resources.files("gemini_proxy") / "dashboard"


class PageParts(HTMLParser):
    """The tags and attributes of the page that matter for its security."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.styles: list[str] = []
        self.inline_code: list[str] = []  # text inside <script> or <style>
        self.handlers: list[str] = []  # on* attributes and style attributes
        self.links: list[str] = []  # href and src values
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
        if tag == "style":
            self.styles.append(tag)
        if tag in ("script", "style"):
            self._inside = tag
        for name, value in attrs:
            if name.startswith("on") or name == "style":
                self.handlers.append(f"{tag}.{name}")
            if name in ("href", "src") and value is not None:
                self.links.append(value)

    def handle_endtag(self, tag: str) -> None:
        self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside is not None and data.strip():
            self.inline_code.append(data)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with session.get(url, allow_redirects=False) as response:
        return response.status, response.headers.copy(), await response.read()


def _files() -> list[str]:
    return sorted(entry.name for entry in FOLDER.iterdir() if entry.is_file())


class TestPageHeaders:
    async def test_page_is_served_with_strict_headers(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """The HTML needs no token and comes with CSP (self only), nosniff, no-referrer and no-store."""
        status, headers, body = await _get(session, f"{proxy.url}/admin/ui")
        assert status == 200
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert body.startswith(b"<!doctype html>")

    def test_policy_allows_this_origin_only_and_no_inline_code(self) -> None:
        """Scripts, styles and fetches come from the proxy itself; no inline code, no eval, no framing."""
        directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
        assert directives["default-src"] == "'none'"
        for name in ("script-src", "style-src", "connect-src", "img-src"):
            assert directives[name] == "'self'", name
        assert directives["frame-ancestors"] == "'none'"
        assert "unsafe" not in CONTENT_SECURITY_POLICY

    @pytest.mark.parametrize("name", [n for n in _files() if n != "index.html"])
    async def test_every_asset_is_served_with_its_type(
        self, proxy: RunningProxy, session: aiohttp.ClientSession, name: str
    ) -> None:
        """Each file of the folder is served at /admin/ui/<name>, typed, nosniff, revalidated by ETag."""
        status, headers, body = await _get(session, f"{proxy.url}/admin/ui/{name}")
        assert status == 200
        assert body == (FOLDER / name).read_bytes()
        expected = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[
            name.rsplit(".", 1)[1]
        ]
        assert headers["Content-Type"].split(";")[0] == expected
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Cache-Control"] == "no-cache"
        async with session.get(
            f"{proxy.url}/admin/ui/{name}", headers={"If-None-Match": headers["ETag"]}
        ) as again:
            assert again.status == 304

    @pytest.mark.parametrize(
        "path", ["/admin/ui/missing.js", "/admin/ui/index.html", "/admin/ui/..%2Fadmin.py"]
    )
    async def test_other_paths_are_not_found(
        self, proxy: RunningProxy, session: aiohttp.ClientSession, path: str
    ) -> None:
        """Only the dashboard's own files are served; nothing else of the package is reachable."""
        status, _, _ = await _get(session, f"{proxy.url}{path}")
        assert status == 404

    async def test_trailing_slash_redirects_to_the_page(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """/admin/ui/ sends the browser to /admin/ui (its relative links resolve from there)."""
        status, headers, _ = await _get(session, f"{proxy.url}/admin/ui/")
        assert status == 308 and headers["Location"] == "../ui"


class TestPageContent:
    def test_html_has_no_inline_code_and_loads_only_local_files(self) -> None:
        """One module script by src; no inline script or style, no on* or style attributes, no URL elsewhere."""
        parts = PageParts()
        parts.feed((FOLDER / "index.html").read_text())
        assert parts.scripts == [{"type": "module", "src": "ui/app.js"}]
        assert parts.styles == [] and parts.inline_code == [] and parts.handlers == []
        assert parts.links and all(link.startswith(("ui/", "#")) for link in parts.links), parts.links

    @pytest.mark.parametrize("name", [n for n in _files() if n.endswith((".js", ".css", ".html"))])
    def test_no_file_reaches_outside_the_proxy(self, name: str) -> None:
        """No CDN, no external font or script: no absolute URL other than the SVG namespace."""
        text = (FOLDER / name).read_text()
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, urls
        assert "@import" not in text and "@font-face" not in text

    @pytest.mark.parametrize("name", [n for n in _files() if n.endswith(".js")])
    def test_scripts_never_parse_html_or_eval(self, name: str) -> None:
        """The scripts build nodes with createElement/textContent (Trusted Types would refuse the rest)."""
        text = (FOLDER / name).read_text()
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in text, (name, sink)

    def test_every_module_import_is_a_served_file(self) -> None:
        """Each `from "./x.js"` names a file of the folder (a typo would break the page silently)."""
        files = set(_files())
        for name in (n for n in files if n.endswith(".js")):
            for target in re.findall(r'from "\./([^"]+)"', (FOLDER / name).read_text()):
                assert target in files, (name, target)


class TestNoSecretsInThePage:
    async def test_static_files_hold_no_key_and_no_token(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """What anyone can fetch without a token holds no configured key or token."""
        secrets = [*KEYS, ADMIN_TOKEN, CLIENT_TOKEN]
        for path in ["/admin/ui", *(f"/admin/ui/{n}" for n in _files() if n != "index.html")]:
            status, headers, body = await _get(session, f"{proxy.url}{path}")
            assert status == 200, path
            text = body.decode() + " ".join(headers.values())
            leaked = [secret for secret in secrets if secret in text]
            assert leaked == [], path
