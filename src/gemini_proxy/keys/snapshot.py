"""Between live key state and the persisted records of ``store.records`` (both directions).

Export writes what a restart needs: disables and their probe schedule, breaker, health,
counters, running cooldowns, usage windows and the keys added at run time. Restore is
lenient: a record that does not fit (unknown breaker state, negative numbers) is read
as the nearest sensible value instead of failing the start.
"""

from __future__ import annotations

import math

from gemini_proxy.keys.breaker import BreakerPhase, BreakerPolicy, BreakerState
from gemini_proxy.keys.health import HealthPolicy, HealthState
from gemini_proxy.keys.state import Cooldown, KeyState
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord, UsageRecord


def export_key_state(state: KeyState, now: float, health_policy: HealthPolicy) -> KeyStateRecord:
    """One key's persisted record."""
    breaker = state.breaker
    return KeyStateRecord(
        key_id=state.key_id,
        disabled=state.disabled,
        disabled_reason=state.disabled_reason,
        disabled_at=state.disabled_at,
        next_probe_at=state.next_probe_at,
        probe_failures=state.probe_failures,
        breaker_state=str(breaker.phase),
        breaker_level=breaker.level,
        consecutive_failures=breaker.consecutive_failures,
        open_until=breaker.open_until,
        health=state.health.score(health_policy, now),
        requests=state.requests,
        failures=state.failures,
        last_error=state.last_error,
        last_error_at=state.last_error_at,
        updated_at=state.updated_at,
    )


def export_cooldowns(state: KeyState, now: float) -> list[CooldownRecord]:
    """The key's cooldowns still running at ``now``."""
    return [
        CooldownRecord(state.key_id, model, cooldown.until, cooldown.reason, cooldown.per_day)
        for model, cooldown in sorted(state.active_cooldowns(now).items())
    ]


def export_usage(state: KeyState, now: float) -> list[UsageRecord]:
    """The key's usage windows; idle windows are dropped from the state on the way."""
    records: list[UsageRecord] = []
    idle: list[str] = []
    for model, window in state.usage.items():
        if window is None:
            continue
        exported = window.export(state.key_id, model, now)
        if exported:
            records.extend(exported)
        else:
            idle.append(model)
    for model in idle:
        del state.usage[model]
    return records


def export_added_key(state: KeyState) -> AddedKeyRecord | None:
    """The record of a key added at run time; ``None`` for a configured key."""
    if state.added_at is None:
        return None
    spec = state.spec
    return AddedKeyRecord(
        key_id=state.key_id,
        secret=spec.secret,
        name=spec.name,
        project=spec.project,
        weight=spec.weight,
        limits=spec.limits.to_dict(),
        added_at=state.added_at,
    )


def restore_key_state(state: KeyState, record: KeyStateRecord, policy: BreakerPolicy, now: float) -> None:
    """Load a persisted record into a freshly built key state."""
    state.disabled = record.disabled
    state.disabled_reason = record.disabled_reason if record.disabled else None
    state.disabled_at = record.disabled_at if record.disabled else None
    state.next_probe_at = record.next_probe_at if record.disabled else None
    state.probe_failures = max(0, record.probe_failures)
    state.breaker = _restore_breaker(record, policy)
    health = record.health if math.isfinite(record.health) else 1.0
    state.health = HealthState(outcome_ewma=min(1.0, max(0.0, health)), updated_at=now)
    state.requests = max(0, record.requests)
    state.failures = max(0, record.failures)
    state.last_error = record.last_error
    state.last_error_at = record.last_error_at
    state.updated_at = record.updated_at


def _restore_breaker(record: KeyStateRecord, policy: BreakerPolicy) -> BreakerState:
    try:
        phase = BreakerPhase(record.breaker_state)
    except ValueError:
        phase = BreakerPhase.CLOSED
    if phase is BreakerPhase.CLOSED:
        return BreakerState(
            policy=policy,
            level=max(0, record.breaker_level),
            consecutive_failures=max(0, record.consecutive_failures),
        )
    # An open breaker keeps its deadline; a half-open one lost its trial with the process.
    return BreakerState(
        policy=policy,
        phase=BreakerPhase.OPEN if record.open_until is not None else BreakerPhase.HALF_OPEN,
        level=max(0, record.breaker_level),
        consecutive_failures=max(0, record.consecutive_failures),
        open_until=record.open_until,
    )


def restore_cooldown(state: KeyState, record: CooldownRecord, now: float) -> bool:
    """Apply a saved cooldown unless it has run out (or a longer one is already set)."""
    if record.until <= now:
        return False
    current = state.cooldowns.get(record.model)
    if current is not None and current.until >= record.until:
        return False
    state.cooldowns[record.model] = Cooldown(record.until, record.reason, record.per_day)
    return True
