"""Builds the key pool from settings and routes its state-change events to the log."""

from __future__ import annotations

import random
from collections.abc import Callable

from structlog.typing import FilteringBoundLogger

from gemini_proxy.config import KeySettings, LimitSettings, Settings
from gemini_proxy.keys.backoff import ProbePolicy
from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.limits import ModelLimits
from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.keys.scheduler import Strategy


def model_limits(settings: LimitSettings) -> ModelLimits:
    """Config limits -> the pool's limits value."""
    return ModelLimits.from_dict(settings.model_dump())


def key_spec(settings: KeySettings) -> KeySpec:
    return KeySpec(
        secret=settings.key,
        name=settings.name,
        project=settings.project,
        weight=settings.weight,
        limits=model_limits(settings.limits),
    )


def pool_policy(settings: Settings) -> PoolPolicy:
    pool = settings.pool
    return PoolPolicy(
        strategy=Strategy(pool.strategy),
        failure_threshold=pool.failure_threshold,
        backoff_base_s=pool.backoff_base_s,
        backoff_max_s=pool.backoff_max_s,
        min_health=pool.min_health,
        probe=ProbePolicy(initial_s=pool.probe_initial_s, max_s=max(pool.probe_max_s, pool.probe_initial_s)),
        default_limits=model_limits(pool.limits),
        trial_timeout_s=settings.upstream.request_timeout_s + 60,
    )


def log_key_events(log: FilteringBoundLogger) -> Callable[[KeyEvent], None]:
    """One structured log event per key state change."""

    def on_event(event: KeyEvent) -> None:
        log.info(
            f"key_{event.kind.value}",
            key_id=event.key_id,
            model=event.model,
            reason=event.reason,
            until=event.until,
        )

    return on_event


def build_pool(
    settings: Settings,
    *,
    clock: Callable[[], float],
    rng: random.Random,
    log: FilteringBoundLogger,
    on_event: Callable[[KeyEvent], None] | None = None,
) -> KeyPool:
    log_event = log_key_events(log)

    def emit(event: KeyEvent) -> None:
        log_event(event)
        if on_event is not None:
            on_event(event)

    return KeyPool(
        [key_spec(k) for k in settings.keys],
        pool_policy(settings),
        clock=clock,
        rng=rng,
        on_event=emit,
    )
