"""The pool's tunables, gathered in one frozen value built from the ``pool`` settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from gemini_proxy.keys.backoff import ProbePolicy, RateLimitBackoff
from gemini_proxy.keys.breaker import BreakerPolicy
from gemini_proxy.keys.health import HealthPolicy
from gemini_proxy.keys.limits import ModelLimits
from gemini_proxy.keys.scheduler import Strategy


@dataclass(frozen=True, slots=True)
class PoolPolicy:
    """How the pool picks keys and how it reacts to outcomes.

    ``backoff_base_s`` and ``backoff_max_s`` shape the breaker's open periods
    (``min(base * 2**n, max)``, jittered). ``min_health``: keys scoring below it are
    used only when no healthier key can serve (0 turns this off). ``default_limits``
    apply to every key that does not set its own. ``max_retry_after_s`` caps the delay a
    429 may ask for. ``trial_timeout_s``: a half-open trial that neither finishes nor is
    cancelled stops blocking the key after this long.
    """

    strategy: Strategy = Strategy.ROUND_ROBIN
    failure_threshold: int = 3
    backoff_base_s: float = 2.0
    backoff_max_s: float = 900.0
    min_health: float = 0.3
    probe: ProbePolicy = field(default_factory=ProbePolicy)
    rate_limit_backoff: RateLimitBackoff = field(default_factory=RateLimitBackoff)
    health: HealthPolicy = field(default_factory=HealthPolicy)
    default_limits: ModelLimits = field(default_factory=ModelLimits)
    max_retry_after_s: float = 86_400.0
    trial_timeout_s: float = 660.0

    def __post_init__(self) -> None:
        # Accept the plain string from the settings ("round_robin"); refuse unknown names.
        object.__setattr__(self, "strategy", Strategy(self.strategy))
        if not 0.0 <= self.min_health < 1.0:
            raise ValueError("min_health must be in [0, 1)")
        if self.max_retry_after_s <= 0:
            raise ValueError("max_retry_after_s must be positive")
        self.breaker_policy()  # validates the breaker fields

    def breaker_policy(self) -> BreakerPolicy:
        """The breaker policy these settings describe."""
        return BreakerPolicy(
            failure_threshold=self.failure_threshold,
            base_s=self.backoff_base_s,
            max_s=self.backoff_max_s,
            trial_timeout_s=self.trial_timeout_s,
        )
