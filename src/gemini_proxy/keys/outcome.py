"""What an upstream call's outcome means for the key that made it (data only)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class OutcomeKind(enum.StrEnum):
    """The five classes every upstream outcome falls into."""

    SUCCESS = "success"
    RATE_LIMITED = "rate_limited"
    KEY_REJECTED = "key_rejected"
    TRANSIENT = "transient"
    CLIENT_ERROR = "client_error"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A classified upstream outcome.

    ``reason`` is a short machine-readable cause (``API_KEY_INVALID``, ``http_503``,
    ``timeout``, ``per_minute_quota`` ...) used in logs and metrics. For a rate limit,
    ``retry_after_s`` is the delay the upstream asked for (``None``: none given) and
    ``per_day`` says the daily quota is gone, so the cooldown lasts until the quota resets;
    ``no_quota`` says the model has no quota at all for the key's project ("limit: 0").
    """

    kind: OutcomeKind
    reason: str = ""
    retry_after_s: float | None = None
    per_day: bool = False
    no_quota: bool = False

    @property
    def retryable(self) -> bool:
        """Whether the same request may be tried again on another key."""
        return self.kind in (OutcomeKind.RATE_LIMITED, OutcomeKind.KEY_REJECTED, OutcomeKind.TRANSIENT)

    @property
    def penalises_key(self) -> bool:
        """Whether the outcome counts against the key's health."""
        return self.kind in (OutcomeKind.RATE_LIMITED, OutcomeKind.KEY_REJECTED, OutcomeKind.TRANSIENT)


SUCCESS = Outcome(OutcomeKind.SUCCESS, "ok")
