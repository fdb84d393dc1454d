"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from aiohttp import web

from gemini_proxy.routes.common import json_response
from gemini_proxy.services import SERVICES


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: at least one key that is not disabled, and a working state store."""
    services = request.app[SERVICES]
    summary = services.pool.summary()
    usable = summary.total - summary.disabled
    store_backend = getattr(services.store, "active_backend", getattr(services.store, "name", "none"))
    checks = {"usable_keys": usable, "store": store_backend}
    ready = usable > 0
    return json_response(
        {"status": "ready" if ready else "not_ready", **checks}, status=200 if ready else 503
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
