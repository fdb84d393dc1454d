"""Key state shared by several proxy instances through Redis (``state.redis_url``).

Each instance keeps its own pool as a local mirror, so picking a key never waits on
Redis. ``SharedState`` writes this instance's changes (cooldowns, disables and
re-enables, breaker openings and closings, resets, keys added or removed through the
admin API, rpm/rpd/tpm usage) to Redis and publishes them; it applies the changes the
other instances publish; it reconciles after Redis was away. ``RedisStore``
(``gemini_proxy.store.redis_store``) is the ``StateStore`` over the same data.

Modules: ``layout`` (names), ``codec`` and ``cipher`` (values), ``messages`` (the
channel), ``scripts`` (atomic writes), ``reader`` (reading it all), ``outbox`` (pending
local changes), ``publisher`` (writing them), ``stamps`` and ``mirror`` (applying remote
changes), ``service`` (the link and its sessions).
"""

from __future__ import annotations

from collections.abc import Callable

from structlog.typing import FilteringBoundLogger

from gemini_proxy.config import Settings
from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.shared.service import SharedState, SharedStatus

__all__ = ["SecretCipher", "SharedState", "SharedStatus", "open_shared_state"]


def open_shared_state(
    settings: Settings, *, clock: Callable[[], float], log: FilteringBoundLogger
) -> SharedState | None:
    """The shared state the settings ask for: ``None`` without ``state.redis_url``."""
    url = settings.state.redis_url
    if not url:
        return None
    return SharedState(
        url,
        prefix=settings.state.redis_prefix,
        cipher=SecretCipher(settings.state.secret),
        clock=clock,
        log=log,
    )
