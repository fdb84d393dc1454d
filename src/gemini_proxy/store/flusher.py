"""The background loop that writes the pool's state to the store every few seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gemini_proxy.store.base import StateStore
from gemini_proxy.store.records import PoolSnapshot


async def run_flusher(
    pool_snapshot: Callable[[], PoolSnapshot | None],
    store: StateStore,
    *,
    interval_s: float,
    stop: asyncio.Event,
    on_error: Callable[[Exception], None],
) -> None:
    """Save the pool's snapshot every ``interval_s`` until ``stop`` is set, then once more.

    ``pool_snapshot`` returns ``None`` when nothing changed since it last returned a
    snapshot; then nothing is written. A failure (of ``pool_snapshot`` or of the store) goes
    to ``on_error`` (which must not raise) and the loop goes on; a snapshot that could not
    be saved is tried again at the next tick unless a newer one replaces it. Returns after
    the final flush that follows ``stop``; only cancellation propagates.
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    unsaved: PoolSnapshot | None = None
    while True:
        stopping = await _wait_for_tick_or_stop(stop, interval_s)
        unsaved = await _flush_once(pool_snapshot, store, unsaved, on_error)
        if stopping:
            return


async def _wait_for_tick_or_stop(stop: asyncio.Event, interval_s: float) -> bool:
    """Wait one interval or until ``stop``; whether ``stop`` is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=interval_s)
    except TimeoutError:
        return False
    return True


async def _flush_once(
    pool_snapshot: Callable[[], PoolSnapshot | None],
    store: StateStore,
    unsaved: PoolSnapshot | None,
    on_error: Callable[[Exception], None],
) -> PoolSnapshot | None:
    """Save the newest snapshot there is; the one left unsaved by a failure, if any."""
    try:
        snapshot = pool_snapshot() or unsaved
    except Exception as exc:
        on_error(exc)
        return unsaved
    if snapshot is None:
        return None
    try:
        await store.save(snapshot)
    except Exception as exc:
        on_error(exc)
        return snapshot
    return None
