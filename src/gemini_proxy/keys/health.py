"""A key's health score in [0, 1]: recent outcomes, scaled down for slowness.

The outcome part is an exponentially weighted moving average (EWMA) of results, 1 for a
success and 0 for a failure: ``ewma += alpha * (result - ewma)``. Left alone it drifts
back toward 1 with a half-life (``recovery_half_life_s``): a key skipped for low health
gets no new outcomes, so without forgiveness it could never earn its way back, and old
failures say less about a key than recent ones.

The latency part compares an EWMA of successful calls' latency with a reference:
``min(1, reference / latency)``, so keys at or under the reference lose nothing and a key
twice as slow loses half of the latency share. The score is
``outcome * (1 - latency_weight + latency_weight * latency_factor)``: a key that always
fails scores 0 however fast it fails, and a slow but reliable key at least
``1 - latency_weight``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """How fast health follows outcomes and latency, and how fast it forgives."""

    alpha: float = 0.2
    latency_alpha: float = 0.2
    latency_reference_s: float = 10.0
    latency_weight: float = 0.2
    recovery_half_life_s: float = 300.0

    def __post_init__(self) -> None:
        if not (0 < self.alpha <= 1 and 0 < self.latency_alpha <= 1):
            raise ValueError("alpha and latency_alpha must be in (0, 1]")
        if not 0 <= self.latency_weight < 1:
            raise ValueError("latency_weight must be in [0, 1)")
        if self.latency_reference_s <= 0 or self.recovery_half_life_s <= 0:
            raise ValueError("latency_reference_s and recovery_half_life_s must be positive")


DEFAULT_HEALTH_POLICY = HealthPolicy()


@dataclass(frozen=True, slots=True)
class HealthState:
    """The inputs of one key's score; ``updated_at`` is when ``outcome_ewma`` was last set."""

    outcome_ewma: float = 1.0
    latency_ewma_s: float | None = None
    updated_at: float = 0.0

    def outcome_level(self, policy: HealthPolicy, now: float) -> float:
        """The outcome EWMA at ``now``, after drifting back toward 1 since ``updated_at``."""
        deficit = 1.0 - self.outcome_ewma
        if deficit <= 0.0:
            return 1.0
        elapsed = max(0.0, now - self.updated_at)
        return 1.0 - deficit * math.pow(0.5, elapsed / policy.recovery_half_life_s)

    def latency_factor(self, policy: HealthPolicy) -> float:
        """1 at or under the reference latency, ``reference / latency`` above it."""
        if self.latency_ewma_s is None or self.latency_ewma_s <= policy.latency_reference_s:
            return 1.0
        return policy.latency_reference_s / self.latency_ewma_s

    def speed(self, policy: HealthPolicy) -> float:
        """The latency multiplier in ``[1 - latency_weight, 1]``."""
        return 1.0 - policy.latency_weight + policy.latency_weight * self.latency_factor(policy)

    def score(self, policy: HealthPolicy, now: float) -> float:
        """The health score in [0, 1] at ``now``."""
        return self.outcome_level(policy, now) * self.speed(policy)

    def recovers_at(self, policy: HealthPolicy, now: float, threshold: float) -> float:
        """The first time the score reaches ``threshold`` with no new outcome; ``inf`` if never."""
        if self.score(policy, now) >= threshold:
            return now
        needed_level = threshold / self.speed(policy)
        deficit = 1.0 - self.outcome_ewma
        if needed_level >= 1.0 or deficit <= 0.0:
            return math.inf
        halvings = math.log2(deficit / (1.0 - needed_level))
        # A millisecond past the exact crossing, so rounding cannot leave the score short.
        return max(now, self.updated_at + halvings * policy.recovery_half_life_s + 1e-3)


def update_health(
    state: HealthState, policy: HealthPolicy, now: float, *, success: bool, latency_s: float | None = None
) -> HealthState:
    """Fold one outcome (and, for a success, its latency) into the health state."""
    level = 1.0 if state.outcome_ewma >= 1.0 else state.outcome_level(policy, now)
    level += policy.alpha * ((1.0 if success else 0.0) - level)
    latency = state.latency_ewma_s
    if success and latency_s is not None and latency_s >= 0:
        latency = latency_s if latency is None else latency + policy.latency_alpha * (latency_s - latency)
    return HealthState(outcome_ewma=min(1.0, max(0.0, level)), latency_ewma_s=latency, updated_at=now)
