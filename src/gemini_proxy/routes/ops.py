"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from aiohttp import web

from gemini_proxy.routes.common import json_response
from gemini_proxy.services import SERVICES


async def healthz(request: web.Request) -> web.Response:
    """Alive: the process answers."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready: at least one key that is not disabled, and a working state store.

    An instance sharing state through Redis while Redis is away still serves from its own
    state: ``degraded`` (200 while keys are usable), with the link's details.
    """
    services = request.app[SERVICES]
    summary = services.pool.summary()
    usable = summary.total - summary.disabled
    store_backend = getattr(services.store, "active_backend", getattr(services.store, "name", "none"))
    checks: dict[str, object] = {"usable_keys": usable, "store": store_backend}
    ready = usable > 0
    status = "ready" if ready else "not_ready"
    if services.shared is not None:
        shared = services.shared.status()
        checks["shared_state"] = shared.to_json()
        if ready and not shared.up:
            status = "degraded"
    return json_response({"status": status, **checks}, status=200 if ready else 503)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
