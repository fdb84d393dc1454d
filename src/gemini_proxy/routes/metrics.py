"""``GET /metrics``: Prometheus text from the app's private registry.

Open by default; with ``metrics.require_admin_token`` it needs the admin token like the
admin API. Large bodies (thousands of keys) are gzipped when the scraper accepts it.
"""

from __future__ import annotations

from aiohttp import web

from gemini_proxy.errors import Unauthorized
from gemini_proxy.observability.metrics import CONTENT_TYPE
from gemini_proxy.services import SERVICES

_COMPRESS_FROM_BYTES = 64 * 1024


async def metrics(request: web.Request) -> web.Response:
    """The current metrics."""
    services = request.app[SERVICES]
    if services.settings.metrics.require_admin_token:
        try:
            services.admin_auth.authenticate(request.headers)
        except Unauthorized:
            raise Unauthorized(
                "metrics require the admin token", headers={"WWW-Authenticate": "Bearer"}
            ) from None
    if services.metrics is None:
        raise web.HTTPNotFound()
    body = services.metrics.exposition()
    response = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
    if len(body) >= _COMPRESS_FROM_BYTES:
        response.enable_compression()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
