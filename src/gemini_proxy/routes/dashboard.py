"""The admin dashboard: the static page at ``/admin/ui`` and its assets under ``/admin/ui/``.

The files live in the package (``gemini_proxy/dashboard/``) and are read once, when the
routes are added. They are public and hold no data: the page asks for the admin token
and then talks to the admin API like any other client, so there is no second backend.

Every answer carries a strict Content-Security-Policy (this origin only, no inline
script or style, no framing), ``nosniff`` and ``no-referrer``; the HTML is never cached,
the assets are revalidated by their ETag.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

PREFIX = "/admin/ui"
PACKAGE = "gemini_proxy"
FOLDER = "dashboard"
INDEX = "index.html"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.(?:js|css|svg)")


@dataclass(frozen=True, slots=True)
class Asset:
    """One file of the dashboard, ready to send."""

    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every servable file of the packaged dashboard folder, by file name."""
    folder = resources.files(PACKAGE) / FOLDER
    assets: dict[str, Asset] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if not entry.is_file() or suffix not in CONTENT_TYPES:
            continue
        if entry.name != INDEX and not _ASSET_NAME.fullmatch(entry.name):
            continue
        body = entry.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        assets[entry.name] = Asset(body, CONTENT_TYPES[suffix], etag)
    if INDEX not in assets:
        raise RuntimeError(f"the dashboard is missing from the package ({PACKAGE}/{FOLDER}/{INDEX})")
    return assets


def _respond(request: web.Request, asset: Asset, cache_control: str) -> web.Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache_control, "ETag": asset.etag}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


def add_routes(app: web.Application) -> None:
    """Serve the page at ``/admin/ui`` and its files at ``/admin/ui/<name>``."""
    assets = load_assets()

    async def page(request: web.Request) -> web.StreamResponse:
        """The dashboard's HTML (never cached)."""
        return _respond(request, assets[INDEX], "no-store")

    async def page_with_slash(request: web.Request) -> web.StreamResponse:
        """``/admin/ui/`` is the page too; its relative asset links want the form without a slash."""
        # Returned, not raised: the access middleware answers raised HTTP exceptions as errors.
        return web.Response(status=308, headers={**SECURITY_HEADERS, "Location": "../ui"})

    async def asset(request: web.Request) -> web.StreamResponse:
        """A script, style sheet or icon of the dashboard."""
        name = request.match_info["name"]
        found = assets.get(name) if name != INDEX else None
        if found is None:
            raise web.HTTPNotFound()
        return _respond(request, found, "no-cache")

    app.router.add_get(PREFIX, page)
    app.router.add_get(f"{PREFIX}/", page_with_slash)
    app.router.add_get(PREFIX + "/{name}", asset)
