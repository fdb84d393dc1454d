"""Proactive rate limits (rpm, rpd, tpm) and the usage windows that enforce them.

Limits come from four layers, resolved field by field, first set value wins: the key's
limit for the model, the key's default, the pool's limit for the model, the pool's
default. ``UsageWindow`` counts one (key, model) pair's use:

- the minute window slides: a request counts for 60 s after it was made, and tokens
  for 60 s after they were reported (each deque entry leaves once, so O(1) amortized);
- the day window is the Pacific day (quotas reset at midnight America/Los_Angeles) and
  its counters are exported as ``UsageRecord``s so they survive a restart.

A request is counted when its key is picked (so concurrent picks cannot overshoot rpm)
and its tokens when the response reports them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.store.records import UsageRecord

MINUTE_S = 60.0
_LIMIT_FIELDS = ("rpm", "rpd", "tpm")


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Requests per minute, requests per Pacific day, input tokens per minute; ``None``: no limit."""

    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None

    def __post_init__(self) -> None:
        for name in _LIMIT_FIELDS:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")

    @property
    def is_empty(self) -> bool:
        """Whether no limit is set."""
        return self.rpm is None and self.rpd is None and self.tpm is None

    def overlay(self, fallback: RateLimits) -> RateLimits:
        """These limits, with each unset field taken from ``fallback``."""
        return RateLimits(
            rpm=self.rpm if self.rpm is not None else fallback.rpm,
            rpd=self.rpd if self.rpd is not None else fallback.rpd,
            tpm=self.tpm if self.tpm is not None else fallback.tpm,
        )

    def to_dict(self) -> dict[str, int]:
        """The set fields as a plain mapping."""
        return {name: value for name in _LIMIT_FIELDS if (value := getattr(self, name)) is not None}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RateLimits:
        """Read ``{"rpm": .., "rpd": .., "tpm": ..}``; missing or null fields are unset."""
        values = {name: (int(data[name]) if data.get(name) is not None else None) for name in _LIMIT_FIELDS}
        return cls(**values)


NO_LIMITS = RateLimits()


@dataclass(frozen=True, slots=True)
class ModelLimits:
    """Limits for any model (``default``) and overrides for some models by name."""

    default: RateLimits = NO_LIMITS
    models: Mapping[str, RateLimits] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """Whether no limit is set for any model."""
        return self.default.is_empty and all(limits.is_empty for limits in self.models.values())

    def for_model(self, model: str) -> RateLimits:
        """The limits that apply to ``model`` at this layer."""
        return self.models.get(model, NO_LIMITS).overlay(self.default)

    def to_dict(self) -> dict[str, Any]:
        """``{"rpm": .., "models": {name: {"rpm": ..}}}``: the shape of a key's ``limits`` entry."""
        data: dict[str, Any] = dict(self.default.to_dict())
        if self.models:
            data["models"] = {name: limits.to_dict() for name, limits in self.models.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelLimits:
        """Read the shape ``to_dict`` writes."""
        models = data.get("models") or {}
        return cls(
            default=RateLimits.from_mapping(data),
            models={str(name): RateLimits.from_mapping(limits) for name, limits in models.items()},
        )


def resolve_limits(key_limits: ModelLimits, pool_limits: ModelLimits, model: str) -> RateLimits:
    """The limits for one (key, model): key's model, key's default, pool's model, pool's default."""
    return key_limits.for_model(model).overlay(pool_limits.for_model(model))


class UsageWindow:
    """One (key, model) pair's usage against its limits, with time passed in."""

    __slots__ = (
        "_day_requests",
        "_day_start",
        "_day_tokens",
        "_days",
        "_minute_requests",
        "_minute_token_sum",
        "_minute_tokens",
        "limits",
    )

    def __init__(self, limits: RateLimits, days: PacificDays | None = None) -> None:
        self.limits = limits
        self._days = days or PacificDays()
        self._minute_requests: deque[float] = deque()
        self._minute_tokens: deque[tuple[float, int]] = deque()
        self._minute_token_sum = 0
        self._day_start = 0.0
        self._day_requests = 0
        self._day_tokens = 0

    def record(self, now: float, tokens: int = 0, *, request: bool = True) -> None:
        """Count one request (unless ``request`` is false) and ``tokens`` input tokens at ``now``."""
        self._roll_day(now)
        if request:
            self._day_requests += 1
            if self.limits.rpm is not None:
                self._minute_requests.append(now)
        if tokens > 0:
            self._day_tokens += tokens
            if self.limits.tpm is not None:
                self._minute_tokens.append((now, tokens))
                self._minute_token_sum += tokens

    def allows(self, now: float) -> bool:
        """Whether one more request fits under every limit at ``now``."""
        return self.frees_at(now) is None

    def frees_at(self, now: float) -> float | None:
        """When the next request will fit; ``None`` if one fits now."""
        self._trim(now)
        limits = self.limits
        frees = 0.0
        if limits.rpd is not None and self._day_requests >= limits.rpd:
            frees = self._days.end(now)
        if limits.rpm is not None and len(self._minute_requests) >= limits.rpm:
            oldest_blocking = self._minute_requests[len(self._minute_requests) - limits.rpm]
            frees = max(frees, oldest_blocking + MINUTE_S)
        if limits.tpm is not None and self._minute_token_sum >= limits.tpm:
            frees = max(frees, self._tokens_free_at(limits.tpm))
        return frees if frees > now else None

    def requests_last_minute(self, now: float) -> int:
        """Requests counted in the sliding minute (tracked only when rpm is limited)."""
        self._trim(now)
        return len(self._minute_requests)

    def tokens_last_minute(self, now: float) -> int:
        """Tokens counted in the sliding minute (tracked only when tpm is limited)."""
        self._trim(now)
        return self._minute_token_sum

    def requests_today(self, now: float) -> int:
        """Requests counted since the last Pacific midnight."""
        self._roll_day(now)
        return self._day_requests

    def tokens_today(self, now: float) -> int:
        """Tokens counted since the last Pacific midnight."""
        self._roll_day(now)
        return self._day_tokens

    def export(self, key_id: str, model: str, now: float) -> list[UsageRecord]:
        """The day counters and the live minute window as records (nothing for an idle pair)."""
        self._trim(now)
        records: list[UsageRecord] = []
        if self._day_requests or self._day_tokens:
            records.append(
                UsageRecord(key_id, model, "day", self._day_start, self._day_requests, self._day_tokens)
            )
        starts: list[float] = []
        if self._minute_requests:
            starts.append(self._minute_requests[0])
        if self._minute_tokens:
            starts.append(self._minute_tokens[0][0])
        if starts:
            records.append(
                UsageRecord(
                    key_id,
                    model,
                    "minute",
                    min(starts),
                    len(self._minute_requests),
                    self._minute_token_sum,
                )
            )
        return records

    def restore(self, record: UsageRecord, now: float) -> bool:
        """Add a saved window's counts if it is still current; return whether it was used.

        A day record counts only for the Pacific day it was saved in. A minute record is
        replayed as if all its requests happened at its start (it may free slightly early).
        """
        if record.window == "day":
            self._roll_day(now)
            if abs(record.window_start - self._day_start) > 1.0:
                return False
            self._day_requests += max(0, record.requests)
            self._day_tokens += max(0, record.tokens)
            return True
        if record.window != "minute" or record.window_start + MINUTE_S <= now or record.window_start > now:
            return False
        if self._minute_requests or self._minute_tokens:
            return False
        if self.limits.rpm is not None:
            self._minute_requests.extend([record.window_start] * max(0, record.requests))
        if self.limits.tpm is not None and record.tokens > 0:
            self._minute_tokens.append((record.window_start, record.tokens))
            self._minute_token_sum = record.tokens
        return True

    def _roll_day(self, now: float) -> None:
        start = self._days.start(now)
        if start != self._day_start:
            self._day_start = start
            self._day_requests = 0
            self._day_tokens = 0

    def _trim(self, now: float) -> None:
        self._roll_day(now)
        horizon = now - MINUTE_S
        requests = self._minute_requests
        while requests and requests[0] <= horizon:
            requests.popleft()
        tokens = self._minute_tokens
        while tokens and tokens[0][0] <= horizon:
            self._minute_token_sum -= tokens.popleft()[1]

    def _tokens_free_at(self, tpm: int) -> float:
        """When enough token entries leave the minute for the sum to drop under ``tpm``."""
        excess = self._minute_token_sum - tpm
        for stamp, tokens in self._minute_tokens:
            excess -= tokens
            if excess < 0:
                return stamp + MINUTE_S
        return self._minute_tokens[-1][0] + MINUTE_S
