"""One key's live state inside the pool: plain mutable data, changed only by ``KeyPool``."""

from __future__ import annotations

from dataclasses import dataclass

from gemini_proxy.keys.breaker import BreakerState
from gemini_proxy.keys.health import HealthState
from gemini_proxy.keys.limits import ModelLimits, UsageWindow
from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.outcome import Outcome, OutcomeKind


@dataclass(frozen=True, slots=True)
class Cooldown:
    """A model the key may not serve before ``until``; ``per_day``: until the daily reset."""

    until: float
    reason: str
    per_day: bool = False


class KeyState:
    """Everything the pool knows about one key."""

    __slots__ = (
        "added_at",
        "breaker",
        "cooldowns",
        "disabled",
        "disabled_at",
        "disabled_reason",
        "failures",
        "health",
        "in_flight",
        "key_id",
        "last_error",
        "last_error_at",
        "limited",
        "limits_by_default",
        "masked",
        "next_probe_at",
        "outcome_counts",
        "probe_failures",
        "rate_limit_streak",
        "requests",
        "spec",
        "updated_at",
        "usage",
    )

    def __init__(
        self, spec: KeySpec, breaker: BreakerState, pool_limits: ModelLimits, *, added_at: float | None
    ) -> None:
        self.spec = spec
        self.key_id = spec.key_id
        self.masked = spec.masked
        self.added_at = added_at  # None: configured, not added through the admin API
        self.breaker = breaker
        self.health = HealthState()
        self.disabled = False
        self.disabled_reason: str | None = None
        self.disabled_at: float | None = None
        self.next_probe_at: float | None = None  # None while disabled: no probing (admin's choice)
        self.probe_failures = 0
        self.cooldowns: dict[str, Cooldown] = {}
        self.rate_limit_streak: dict[str, int] = {}
        self.usage: dict[str, UsageWindow | None] = {}
        # Whether a model named nowhere in the limits still gets a limit from a default.
        self.limits_by_default = not (spec.limits.default.is_empty and pool_limits.default.is_empty)
        # Whether any model can have a limit on this key (else it never has a usage window).
        self.limited = self.limits_by_default or bool(spec.limits.models) or bool(pool_limits.models)
        self.requests = 0
        self.failures = 0
        self.outcome_counts: dict[str, int] = dict.fromkeys(OutcomeKind, 0)
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.in_flight = 0
        self.updated_at = 0.0

    def cooling_until(self, model: str, now: float) -> float | None:
        """When the key's cooldown for ``model`` ends; ``None`` if it is not cooling (expired ones go)."""
        cooldown = self.cooldowns.get(model)
        if cooldown is None:
            return None
        if cooldown.until > now:
            return cooldown.until
        del self.cooldowns[model]
        return None

    def count(self, outcome: Outcome, now: float) -> None:
        """Add one finished request to the counters."""
        self.requests += 1
        kind = outcome.kind
        self.outcome_counts[kind] += 1
        if kind is not OutcomeKind.SUCCESS and kind is not OutcomeKind.CLIENT_ERROR:
            self.failures += 1  # every other kind penalises the key
            self.last_error = outcome.reason
            self.last_error_at = now
        self.updated_at = now

    def active_cooldowns(self, now: float) -> dict[str, Cooldown]:
        """The cooldowns still running at ``now`` (expired ones are dropped)."""
        expired = [model for model, cooldown in self.cooldowns.items() if cooldown.until <= now]
        for model in expired:
            del self.cooldowns[model]
        return dict(self.cooldowns)
