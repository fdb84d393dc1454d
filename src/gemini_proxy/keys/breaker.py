"""A per-key circuit breaker as an immutable value with pure transitions.

CLOSED -> OPEN after ``failure_threshold`` consecutive transient failures; OPEN lasts a
jittered ``min(base_s * 2**level, max_s)``; once that time has passed the next pick
begins a trial and the breaker is HALF_OPEN with exactly one trial in flight; the
trial's success closes it (level back to 0), its failure opens it again one level up.

The caller owns the decision of which results are stale: a failure reported by a
request that started before the breaker opened should not be fed to a HALF_OPEN breaker
(see ``KeyPool.release``). A trial that is neither finished nor cancelled within
``trial_timeout_s`` no longer blocks the key, so a leaked lease cannot bench it forever.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, replace


class BreakerPhase(enum.StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """How eagerly a breaker opens and how long it stays open."""

    failure_threshold: int = 3
    base_s: float = 2.0
    max_s: float = 900.0
    trial_timeout_s: float = 660.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if not 0 < self.base_s <= self.max_s:
            raise ValueError("need 0 < base_s <= max_s")
        if self.trial_timeout_s <= 0:
            raise ValueError("trial_timeout_s must be positive")

    def open_duration(self, level: int, rng: random.Random) -> float:
        """How long to stay open at ``level``, with full jitter and a floor.

        Full jitter means the duration is drawn uniformly from ``[0, cap]`` where
        ``cap = min(base_s * 2**level, max_s)``, so breakers that opened together do not
        all retry together. The floor: the draw is raised to at least ``base_s`` (or
        ``cap`` if smaller), so a breaker is never open for a vanishing moment.
        """
        cap = min(self.base_s * 2.0 ** min(level, 64), self.max_s)
        return max(min(self.base_s, cap), rng.uniform(0.0, cap))


DEFAULT_BREAKER_POLICY = BreakerPolicy()


@dataclass(frozen=True, slots=True)
class BreakerState:
    """One key's breaker. Every transition returns a new state."""

    policy: BreakerPolicy = DEFAULT_BREAKER_POLICY
    phase: BreakerPhase = BreakerPhase.CLOSED
    level: int = 0
    consecutive_failures: int = 0
    open_until: float | None = None
    trial_in_flight: bool = False
    trial_deadline: float | None = None

    def allows(self, now: float) -> bool:
        """Whether a request may use the key at ``now`` (a trial, if not CLOSED)."""
        if self.phase is BreakerPhase.CLOSED:
            return True
        if self.phase is BreakerPhase.OPEN:
            return self.open_until is None or now >= self.open_until
        return not self.trial_in_flight or (self.trial_deadline is not None and now >= self.trial_deadline)

    def blocked_until(self, now: float) -> float:
        """When the breaker will next allow a request; ``now`` (or earlier) if it does now."""
        if self.phase is BreakerPhase.OPEN and self.open_until is not None:
            return self.open_until
        if self.phase is BreakerPhase.HALF_OPEN and self.trial_in_flight and self.trial_deadline is not None:
            return self.trial_deadline
        return now

    def effective_phase(self, now: float) -> BreakerPhase:
        """The phase as an observer sees it: OPEN past its deadline is waiting for a trial."""
        if self.phase is BreakerPhase.OPEN and self.allows(now):
            return BreakerPhase.HALF_OPEN
        return self.phase

    def begin_trial(self, now: float) -> BreakerState:
        """Let one trial request through a breaker that is not CLOSED.

        Raises ``ValueError`` if the breaker does not allow a request now; a CLOSED
        breaker is returned unchanged (ordinary requests are not trials).
        """
        if self.phase is BreakerPhase.CLOSED:
            return self
        if not self.allows(now):
            raise ValueError("breaker does not allow a trial now")
        return replace(
            self,
            phase=BreakerPhase.HALF_OPEN,
            trial_in_flight=True,
            trial_deadline=now + self.policy.trial_timeout_s,
        )

    def cancel_trial(self) -> BreakerState:
        """Forget an abandoned trial without judging the key: the next pick may try again."""
        if self.phase is not BreakerPhase.HALF_OPEN or not self.trial_in_flight:
            return self
        return replace(self, trial_in_flight=False, trial_deadline=None)

    def on_success(self) -> BreakerState:
        """The key worked: CLOSED, level 0, no failures counted."""
        if self.phase is BreakerPhase.CLOSED and self.consecutive_failures == 0 and self.level == 0:
            return self
        return BreakerState(policy=self.policy)

    def on_failure(self, now: float, rng: random.Random) -> BreakerState:
        """A transient failure: count it when CLOSED, reopen one level up when a trial failed.

        A failure reported while OPEN (a request that started before the breaker opened)
        changes nothing: it must not lengthen the open period.
        """
        if self.phase is BreakerPhase.OPEN:
            return self
        if self.phase is BreakerPhase.HALF_OPEN:
            return self._opened(self.level + 1, self.consecutive_failures + 1, now, rng)
        failures = self.consecutive_failures + 1
        if failures < self.policy.failure_threshold:
            return replace(self, consecutive_failures=failures)
        return self._opened(self.level, failures, now, rng)

    def _opened(self, level: int, failures: int, now: float, rng: random.Random) -> BreakerState:
        return BreakerState(
            policy=self.policy,
            phase=BreakerPhase.OPEN,
            level=level,
            consecutive_failures=failures,
            open_until=now + self.policy.open_duration(level, rng),
        )
