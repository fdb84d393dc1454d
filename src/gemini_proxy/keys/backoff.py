"""Backoff schedules: re-testing disabled keys, and 429s that name no delay.

Both are capped exponentials with a little downward jitter (a delay is drawn from
``[cap * (1 - jitter), cap]``), so keys disabled or throttled together spread out
instead of coming back in one burst, and no delay ever exceeds its maximum.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


def _validate(initial_s: float, max_s: float, factor: float, jitter: float) -> None:
    if not 0 < initial_s <= max_s:
        raise ValueError("need 0 < initial delay <= max delay")
    if factor < 1:
        raise ValueError("factor must be at least 1")
    if not 0 <= jitter < 1:
        raise ValueError("jitter must be in [0, 1)")


def _capped_exponential(
    initial_s: float, max_s: float, factor: float, jitter: float, attempt: int, rng: random.Random
) -> float:
    cap = min(initial_s * factor ** min(max(attempt, 0), 64), max_s)
    return cap * (1.0 - jitter * rng.random())


@dataclass(frozen=True, slots=True)
class ProbePolicy:
    """When to re-test a disabled key: minutes at first, growing to hours."""

    initial_s: float = 60.0
    max_s: float = 6 * 3600.0
    factor: float = 2.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        _validate(self.initial_s, self.max_s, self.factor, self.jitter)

    def delay(self, failed_probes: int, rng: random.Random) -> float:
        """Seconds until the next probe after ``failed_probes`` failed ones (0 right after disabling)."""
        return _capped_exponential(self.initial_s, self.max_s, self.factor, self.jitter, failed_probes, rng)


@dataclass(frozen=True, slots=True)
class RateLimitBackoff:
    """How long to cool a (key, model) after a 429 that says nothing about when to retry.

    ``streak`` counts such 429s in a row on the pair; a success resets it.
    """

    initial_s: float = 5.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        _validate(self.initial_s, self.max_s, self.factor, self.jitter)

    def delay(self, streak: int, rng: random.Random) -> float:
        """Seconds to cool after the ``streak``-th (0-based) unexplained 429 in a row."""
        return _capped_exponential(self.initial_s, self.max_s, self.factor, self.jitter, streak, rng)
