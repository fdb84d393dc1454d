"""The upstream's model list, kept for ``openai.models_cache_s`` seconds.

``GET /v1/models`` is called often (many OpenAI clients list models on start) and the
list changes rarely, so the proxy asks the upstream once per period. Concurrent
requests for an expired list wait for one refresh instead of each making their own.
The cache does not know how to load the list: the caller passes the loader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

ModelList = list[dict[str, Any]]


class ModelsCache:
    """A time-limited, single-flight cache of one model list."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._models: ModelList | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def _fresh(self) -> ModelList | None:
        if self._models is not None and self._clock() < self._expires_at:
            return self._models
        return None

    async def get(self, load: Callable[[], Awaitable[ModelList]], *, ttl_s: float) -> ModelList:
        """The cached list while fresh, else the result of ``load``, then kept for ``ttl_s`` (0: not kept).

        ``ttl_s`` is read per call, so a configuration reload applies to the next refresh.
        """
        models = self._fresh()
        if models is not None:
            return models
        async with self._lock:
            models = self._fresh()
            if models is not None:
                return models
            models = await load()
            if ttl_s > 0:
                self._models = models
                self._expires_at = self._clock() + ttl_s
            return models

    def clear(self) -> None:
        """Forget the list; the next ``get`` loads it again."""
        self._models = None
        self._expires_at = 0.0
