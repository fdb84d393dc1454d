"""The application: ``create_app`` wires routes and middleware; its lifespan
(``cleanup_ctx``) builds the object graph once and tears it down at shutdown."""

from __future__ import annotations

import gc
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TextIO

from aiohttp import web

from gemini_proxy.auth import AdminAuthenticator, ClientAuthenticator
from gemini_proxy.background import BackgroundTasks, make_store, restore_pool
from gemini_proxy.config import Settings
from gemini_proxy.observability.activity import RecentActivity
from gemini_proxy.observability.fanout import DispatchFanOut, key_event_fanout
from gemini_proxy.observability.logging import AccessLog, LineWriter, Redactor, build_logger
from gemini_proxy.observability.metrics import Metrics
from gemini_proxy.observability.middleware import access_middleware
from gemini_proxy.observability.timeline import TIMELINE, RequestTimeline
from gemini_proxy.pool_factory import build_pool
from gemini_proxy.reload import ConfigReloader, secrets_of
from gemini_proxy.routes import admin, dashboard, gemini, ops
from gemini_proxy.routes import metrics as metrics_route
from gemini_proxy.routes import openai as openai_routes
from gemini_proxy.routes.openai_common import translate_options_for
from gemini_proxy.services import SERVICES, SETTINGS, Services
from gemini_proxy.shared import open_shared_state
from gemini_proxy.upstream.client import UpstreamClient
from gemini_proxy.upstream.dispatch import Dispatcher
from gemini_proxy.upstream.models_cache import ModelsCache

GC_YOUNG_THRESHOLD = 10_000


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
    log_stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> web.Application:
    """A fresh application for ``settings``; nothing is built until it starts.

    ``environ`` is the environment captured at start, for ``${VAR}`` expansion when an
    admin reloads the configuration file (none given: variables must have defaults).
    """
    app = web.Application(
        client_max_size=settings.server.max_body_bytes,
        middlewares=[access_middleware],
    )
    app[SETTINGS] = settings

    async def lifespan(app: web.Application) -> AsyncIterator[None]:
        redactor = Redactor(secrets_of(settings))
        log_writer = LineWriter(log_stream or sys.stdout)
        log = build_logger(
            level=settings.logging.level, fmt=settings.logging.format, redactor=redactor, writer=log_writer
        )
        client = UpstreamClient(
            settings.upstream.base_url,
            connect_timeout_s=settings.upstream.connect_timeout_s,
            request_timeout_s=settings.upstream.request_timeout_s,
            max_connections=settings.upstream.max_connections,
        )
        await client.start()
        metrics = Metrics() if settings.metrics.enabled else None
        activity = RecentActivity(clock=clock)
        timeline = RequestTimeline(clock=clock)  # the dashboard's per-minute charts
        shared = open_shared_state(settings, clock=clock, log=log)
        listeners = [activity.key_event, *([metrics.key_event] if metrics else [])]
        pool = build_pool(
            settings,
            clock=clock,
            rng=rng or random.Random(),
            log=log,
            on_event=key_event_fanout([*listeners, *([shared.key_event] if shared else [])]),
        )
        store = make_store(
            settings, clock=clock, log=log, on_switch=metrics.store_switched if metrics else None
        )
        await restore_pool(pool, store, log)
        redactor.update(pool.probe_secret(view.key_id) for view in pool.views() if view.added_at is not None)
        if shared is not None:
            shared.attach(pool, on_key_added=lambda secret: redactor.update([secret]))
            if metrics is not None:
                metrics.watch_shared_state(lambda: shared.up)
            await shared.start()
        dispatcher = Dispatcher(
            client,
            pool,
            max_attempts=settings.pool.max_attempts,
            max_failover_keys=settings.pool.max_failover_keys,
            deadline_s=settings.upstream.deadline_s
            or settings.upstream.request_timeout_s * settings.pool.max_attempts,
            wait_for_key_s=settings.pool.wait_for_key_s,
            clock=clock,
            observer=DispatchFanOut([metrics, activity, timeline] if metrics else [activity, timeline]),
        )
        services = Services(
            settings=settings,
            log=log,
            redactor=redactor,
            access_log=AccessLog(
                log,
                writer=log_writer,
                redactor=redactor,
                level=settings.logging.level,
                fmt=settings.logging.format,
                enabled=settings.logging.access_log,
            ),
            client=client,
            pool=pool,
            dispatcher=dispatcher,
            client_auth=ClientAuthenticator(
                [(t.name, t.token) for t in settings.auth.client_tokens],
                allow_unauthenticated=settings.auth.allow_unauthenticated,
            ),
            admin_auth=AdminAuthenticator(settings.auth.admin_token),
            clock=clock,
            store=store,
            metrics=metrics,
            shared=shared,
            activity=activity,
            reloader=ConfigReloader(environ or {}),
            translate_options=translate_options_for(settings),
            models_cache=ModelsCache(clock=clock),
        )
        app[SERVICES] = services
        app[TIMELINE] = timeline
        if metrics is not None:
            metrics.watch(pool, store)
            services.streams.on_change = metrics.streams_changed
        background = BackgroundTasks()
        background.start(
            settings,
            pool,
            store,
            client,
            clock=clock,
            log=log,
            on_flush_error=(lambda exc: metrics.store_error("flush")) if metrics else None,
        )
        # Everything built so far lives as long as the process: keep the garbage
        # collector from scanning it again and again under load.
        gc.freeze()
        # A request's garbage is freed by reference counting; the collector's young
        # generation, scanned every 700 allocations by default, finds next to nothing.
        gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)
        if not settings.keys:
            log.warning(
                "no_keys_configured",
                hint="add keys with GEMINI_API_KEYS, keys, keys_file or POST /admin/keys; until then every call gets 503",
            )
        log.info(
            "proxy_started",
            keys=len(settings.keys),
            upstream=settings.upstream.base_url,
            strategy=settings.pool.strategy,
            config=settings.source,
        )
        try:
            yield
        finally:
            await background.close()
            if shared is not None:
                await shared.close()
            await store.close()
            await client.close()
            await services.media_fetcher.close()
            log.info("proxy_stopped", streams_open=services.streams.active, store=store.name)
            log_writer.flush()

    app.cleanup_ctx.append(lifespan)
    ops.add_routes(app)
    if settings.metrics.enabled:
        metrics_route.add_routes(app)
    admin.add_routes(app)
    dashboard.add_routes(app)
    openai_routes.add_routes(app)  # before the native catch-all, which would take its paths
    app.router.add_route("*", "/v1beta/{tail:.*}", gemini.handle_native)
    app.router.add_route("*", "/v1/{tail:.*}", gemini.handle_native)
    return app


async def start_server(
    app: web.Application, host: str = "127.0.0.1", port: int = 0
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on a real socket (tests, demo, benchmarks); returns the runner and port."""
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
