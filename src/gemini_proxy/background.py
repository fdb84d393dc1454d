"""The work that runs beside requests, never on their path: restoring and flushing the
pool's state, and re-testing disabled keys. Started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from structlog.typing import FilteringBoundLogger

from gemini_proxy.config import Settings
from gemini_proxy.keys.classify import classify_upstream_response
from gemini_proxy.keys.outcome import Outcome
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.keys.prober import run_prober
from gemini_proxy.shared.cipher import SecretCipher
from gemini_proxy.store.base import StateStore, StoreError
from gemini_proxy.store.factory import open_store
from gemini_proxy.store.flusher import run_flusher
from gemini_proxy.store.records import PoolSnapshot
from gemini_proxy.store.redis_store import RedisStore
from gemini_proxy.upstream.client import UpstreamClient, UpstreamRequest


def make_store(
    settings: Settings,
    *,
    clock: Callable[[], float],
    log: FilteringBoundLogger,
    on_switch: Callable[[str, str, str], None] | None = None,
) -> StateStore:
    """The configured store; a switch of backend is one loud log event (and a metric hook).

    With ``state.redis_url`` it is Redis, shared with the other instances (``state.path``
    is then unused): see ``gemini_proxy.shared``.
    """
    if settings.state.redis_url:
        return RedisStore(
            settings.state.redis_url,
            prefix=settings.state.redis_prefix,
            cipher=SecretCipher(settings.state.secret),
            clock=clock,
        )

    def switched(old: str, new: str, reason: str) -> None:
        log.warning("store_switched", from_backend=old, to_backend=new, reason=reason)
        if on_switch is not None:
            on_switch(old, new, reason)

    def corrupt(path: str, moved_to: str) -> None:
        log.error("store_corrupt_moved_aside", path=path, moved_to=moved_to)

    return open_store(settings.state.path, on_switch=switched, on_corrupt=corrupt, clock=clock)


async def restore_pool(pool: KeyPool, store: StateStore, log: FilteringBoundLogger) -> None:
    """Load the stored state into the pool; a store that cannot be read means a clean start."""
    try:
        snapshot = await store.load()
    except StoreError as exc:
        log.error("state_restore_failed", error=str(exc), store=store.name)
        return
    pool.restore(snapshot)
    pool.mark_flushed(pool.version)
    log.info(
        "state_restored",
        keys=len(snapshot.keys),
        cooldowns=len(snapshot.cooldowns),
        added_keys=len(snapshot.added_keys),
    )


STATS_FLUSH_S = 30.0


def snapshot_if_dirty(
    pool: KeyPool, *, stop: asyncio.Event, stats_every_s: float = STATS_FLUSH_S, clock: Callable[[], float]
) -> Callable[[], PoolSnapshot | None]:
    """For the flusher: a snapshot when the pool changed since the last one, else None.

    Real state changes (cooldowns, disables, breakers, usage windows) go out at every
    flush; keys whose only change is counters and health at most every ``stats_every_s``,
    and at the final flush.
    """
    last_stats = clock()

    def take() -> PoolSnapshot | None:
        nonlocal last_stats
        if not pool.dirty:
            return None
        now = clock()
        include_stats = stop.is_set() or now - last_stats >= stats_every_s
        if include_stats:
            last_stats = now
        version = pool.version
        snapshot = pool.export_snapshot(incremental=True, include_stats=include_stats)
        if include_stats:
            pool.mark_flushed(version)
        return snapshot

    return take


def models_probe(client: UpstreamClient, model: str) -> Callable[[str], Awaitable[Outcome]]:
    """A probe that costs no generation quota: GET the default model's metadata."""

    async def probe(secret: str) -> Outcome:
        request = UpstreamRequest("GET", f"/v1beta/models/{model}")
        response = await client.send(request, secret)
        try:
            body = await response.read()
        finally:
            response.release()
        return classify_upstream_response(response.status, response.headers, body)

    return probe


@dataclass
class BackgroundTasks:
    """The flusher and the prober, stopped together."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(
        self,
        settings: Settings,
        pool: KeyPool,
        store: StateStore,
        client: UpstreamClient,
        *,
        clock: Callable[[], float],
        log: FilteringBoundLogger,
        on_flush_error: Callable[[Exception], None] | None = None,
    ) -> None:
        def flush_failed(exc: Exception) -> None:
            log.error("state_flush_failed", error=str(exc), store=store.name)
            if on_flush_error is not None:
                on_flush_error(exc)

        # With Redis, ``SharedState`` writes each change as it happens: a whole snapshot of
        # this instance would overwrite what the other instances changed meanwhile.
        if not settings.state.redis_url:
            self.tasks.append(
                asyncio.create_task(
                    run_flusher(
                        snapshot_if_dirty(pool, stop=self.stop, clock=clock),
                        store,
                        interval_s=settings.state.flush_interval_s,
                        stop=self.stop,
                        on_error=flush_failed,
                    ),
                    name="state-flusher",
                )
            )
        self.tasks.append(
            asyncio.create_task(
                run_prober(
                    pool,
                    models_probe(client, settings.models.default),
                    interval_s=settings.pool.probe_interval_s,
                    clock=clock,
                    stop=self.stop,
                ),
                name="key-prober",
            )
        )

    async def close(self, timeout_s: float = 10.0) -> None:
        """Stop both loops; the flusher saves once more on its way out."""
        self.stop.set()
        if not self.tasks:
            return
        done, pending = await asyncio.wait(self.tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for task in done:
            with contextlib.suppress(asyncio.CancelledError):
                task.result()
