"""The typed object graph the lifespan builds and hands to handlers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web
from structlog.typing import FilteringBoundLogger

from gemini_proxy.auth import AdminAuthenticator, ClientAuthenticator
from gemini_proxy.config import Settings
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.observability.activity import RecentActivity
from gemini_proxy.observability.logging import AccessLog, Redactor
from gemini_proxy.observability.metrics import Metrics
from gemini_proxy.reload import ConfigReloader
from gemini_proxy.shared import SharedState
from gemini_proxy.store.base import StateStore
from gemini_proxy.translate import IdSource, SignatureCache, TranslateOptions, random_id_source
from gemini_proxy.upstream.client import UpstreamClient
from gemini_proxy.upstream.dispatch import Dispatcher
from gemini_proxy.upstream.media import RemoteMediaFetcher
from gemini_proxy.upstream.models_cache import ModelsCache


@dataclass(slots=True)
class StreamCounter:
    """How many client streams are open now (and a hook for the metrics gauge)."""

    active: int = 0
    on_change: Callable[[int], None] | None = None

    def opened(self) -> None:
        self.active += 1
        if self.on_change is not None:
            self.on_change(self.active)

    def closed(self) -> None:
        self.active -= 1
        if self.on_change is not None:
            self.on_change(self.active)


@dataclass(slots=True)
class Services:
    """Everything a handler may use; built once per app in the lifespan.

    ``settings``, ``client_auth`` and ``admin_auth`` are replaced by a configuration
    reload (``gemini_proxy.reload``): read them from here per request, never keep them.
    """

    settings: Settings
    log: FilteringBoundLogger
    redactor: Redactor
    access_log: AccessLog
    client: UpstreamClient
    pool: KeyPool
    dispatcher: Dispatcher
    client_auth: ClientAuthenticator
    admin_auth: AdminAuthenticator
    clock: Callable[[], float]
    streams: StreamCounter = field(default_factory=StreamCounter)
    store: StateStore | None = None
    metrics: Metrics | None = None
    # The key state shared with other instances through Redis; None: this instance alone.
    shared: SharedState | None = None
    # Recent errors per key and the models in use (admin API); fed by the dispatch loop.
    activity: RecentActivity = field(default_factory=lambda: RecentActivity(clock=time.time))
    # Re-reads the configuration file (POST /admin/reload); None: reload is not offered.
    reloader: ConfigReloader | None = None
    # The OpenAI-compatible API: translation settings, thought signatures kept between
    # a tool call and its follow-up, ids for completions and tool calls, the upstream's
    # model list, and the remote image fetcher (used only when openai.fetch_remote_media).
    translate_options: TranslateOptions = field(default_factory=TranslateOptions)
    signatures: SignatureCache = field(default_factory=SignatureCache)
    new_id: IdSource = field(default_factory=lambda: random_id_source(random.Random()))
    models_cache: ModelsCache = field(default_factory=lambda: ModelsCache(clock=time.time))
    media_fetcher: RemoteMediaFetcher = field(default_factory=RemoteMediaFetcher)


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
