"""The typed object graph the lifespan builds and hands to handlers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from structlog.typing import FilteringBoundLogger

from gemini_proxy.auth import AdminAuthenticator, ClientAuthenticator
from gemini_proxy.config import Settings
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.observability.logging import Redactor
from gemini_proxy.store.base import StateStore
from gemini_proxy.upstream.client import UpstreamClient
from gemini_proxy.upstream.dispatch import Dispatcher


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
    """Everything a handler may use; built once per app in the lifespan."""

    settings: Settings
    log: FilteringBoundLogger
    redactor: Redactor
    client: UpstreamClient
    pool: KeyPool
    dispatcher: Dispatcher
    client_auth: ClientAuthenticator
    admin_auth: AdminAuthenticator
    clock: Callable[[], float]
    streams: StreamCounter = field(default_factory=StreamCounter)
    store: StateStore | None = None
    metrics: Any = None


SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
