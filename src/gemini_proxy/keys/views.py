"""Read-only pictures of the pool for the admin API and the dashboard (no raw keys)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gemini_proxy.keys.breaker import BreakerPhase
from gemini_proxy.keys.health import HealthPolicy
from gemini_proxy.keys.state import KeyState


class KeyStatus(enum.StrEnum):
    """A key's overall state, most severe first."""

    DISABLED = "disabled"
    OPEN = "open"
    HALF_OPEN = "half_open"
    COOLING = "cooling"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class CooldownView:
    """A model the key may not serve before ``until``."""

    model: str
    until: float
    reason: str
    per_day: bool


@dataclass(frozen=True, slots=True)
class UsageView:
    """One model's usage against the key's limits (``None``: no limit)."""

    model: str
    rpm: int | None
    rpd: int | None
    tpm: int | None
    requests_last_minute: int
    tokens_last_minute: int
    requests_today: int
    tokens_today: int
    frees_at: float | None


@dataclass(frozen=True, slots=True)
class KeyView:
    """One key as the admin API shows it."""

    key_id: str
    masked: str
    name: str
    project: str | None
    weight: float
    status: KeyStatus
    health: float
    breaker_state: BreakerPhase
    breaker_level: int
    consecutive_failures: int
    open_until: float | None
    cooldowns: tuple[CooldownView, ...]
    usage: tuple[UsageView, ...]
    requests: int
    failures: int
    outcomes: Mapping[str, int]
    in_flight: int
    last_error: str | None
    last_error_at: float | None
    disabled_reason: str | None
    disabled_at: float | None
    next_probe_at: float | None
    added_at: float | None


@dataclass(frozen=True, slots=True)
class PoolSummary:
    """Counts of keys by status, and whether any key is usable at all."""

    total: int
    active: int
    cooling: int
    open: int
    half_open: int
    disabled: int
    in_flight: int

    @property
    def usable(self) -> bool:
        """Whether at least one key is not disabled."""
        return self.disabled < self.total


def key_status(state: KeyState, now: float) -> KeyStatus:
    """The one-word state of a key at ``now``."""
    if state.disabled:
        return KeyStatus.DISABLED
    phase = state.breaker.effective_phase(now)
    if phase is BreakerPhase.OPEN:
        return KeyStatus.OPEN
    if phase is BreakerPhase.HALF_OPEN:
        return KeyStatus.HALF_OPEN
    if state.active_cooldowns(now):
        return KeyStatus.COOLING
    return KeyStatus.ACTIVE


def build_view(state: KeyState, now: float, health_policy: HealthPolicy) -> KeyView:
    """The admin view of one key at ``now``."""
    breaker = state.breaker
    cooldowns = tuple(
        CooldownView(model, cooldown.until, cooldown.reason, cooldown.per_day)
        for model, cooldown in sorted(state.active_cooldowns(now).items())
    )
    usage = tuple(
        UsageView(
            model=model,
            rpm=window.limits.rpm,
            rpd=window.limits.rpd,
            tpm=window.limits.tpm,
            requests_last_minute=window.requests_last_minute(now),
            tokens_last_minute=window.tokens_last_minute(now),
            requests_today=window.requests_today(now),
            tokens_today=window.tokens_today(now),
            frees_at=window.frees_at(now),
        )
        for model, window in sorted(state.usage.items())
        if window is not None
    )
    return KeyView(
        key_id=state.key_id,
        masked=state.masked,
        name=state.spec.display_name,
        project=state.spec.project,
        weight=state.spec.weight,
        status=key_status(state, now),
        health=round(state.health.score(health_policy, now), 4),
        breaker_state=breaker.effective_phase(now),
        breaker_level=breaker.level,
        consecutive_failures=breaker.consecutive_failures,
        open_until=breaker.open_until if breaker.phase is BreakerPhase.OPEN else None,
        cooldowns=cooldowns,
        usage=usage,
        requests=state.requests,
        failures=state.failures,
        outcomes={str(kind): count for kind, count in state.outcome_counts.items()},
        in_flight=state.in_flight,
        last_error=state.last_error,
        last_error_at=state.last_error_at,
        disabled_reason=state.disabled_reason,
        disabled_at=state.disabled_at,
        next_probe_at=state.next_probe_at,
        added_at=state.added_at,
    )


def summarize(states: Iterable[KeyState], now: float) -> PoolSummary:
    """Count keys by status."""
    counts = dict.fromkeys(KeyStatus, 0)
    total = in_flight = 0
    for state in states:
        counts[key_status(state, now)] += 1
        total += 1
        in_flight += state.in_flight
    return PoolSummary(
        total=total,
        active=counts[KeyStatus.ACTIVE],
        cooling=counts[KeyStatus.COOLING],
        open=counts[KeyStatus.OPEN],
        half_open=counts[KeyStatus.HALF_OPEN],
        disabled=counts[KeyStatus.DISABLED],
        in_flight=in_flight,
    )
