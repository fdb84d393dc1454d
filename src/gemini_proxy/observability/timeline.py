"""Upstream calls, errors and 429s per minute over the last hour, for the pool and each key.

``RequestTimeline`` is a ``DispatchObserver``: every upstream call lands in the bucket of
its minute, in the pool's series and in the key's. A series is sparse (only minutes with
calls are kept, at most ``WINDOW_MINUTES`` of them), and a key that has been quiet for
the whole window is dropped, so memory follows the keys in use, not the pool's size.
``errors`` are calls the key failed for other reasons than a 429 (rejected key, 5xx,
timeout); client errors are the client's fault and count only as calls.

``window(...)`` gives the dense picture the admin API shows (``GET /admin/timeline``):
one bucket per minute, oldest first, the last one being the current, partial minute,
with a sliding estimate of calls per second and the failure ratio of recent minutes.
The timeline belongs to one process; with several instances each shows its own traffic.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.upstream.usage import TokenUsage

BUCKET_S = 60
WINDOW_MINUTES = 60
RATIO_MINUTES = 5  # the failure ratio looks at the current minute and the four before it

_ERRORS = (OutcomeKind.KEY_REJECTED, OutcomeKind.TRANSIENT)


@dataclass(slots=True)
class MinuteCounts:
    """The calls of one minute (``minute`` is Unix time // 60)."""

    minute: int
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class Bucket:
    """One minute of the window: it starts at ``start`` (Unix time)."""

    start: float
    requests: int
    errors: int
    rate_limited: int


@dataclass(frozen=True, slots=True)
class Window:
    """The last hour, one bucket per minute, oldest first; the last bucket is the current minute."""

    buckets: tuple[Bucket, ...]
    requests_per_s: float
    error_ratio: float | None  # (errors + 429s) / calls over the last RATIO_MINUTES; None: no calls


class Series:
    """The minutes with calls of one key (or of the pool), at most ``WINDOW_MINUTES`` of them."""

    __slots__ = ("_minutes",)

    def __init__(self) -> None:
        self._minutes: deque[MinuteCounts] = deque(maxlen=WINDOW_MINUTES)

    def add(self, minute: int, kind: OutcomeKind) -> None:
        minutes = self._minutes
        if not minutes or minutes[-1].minute != minute:
            minutes.append(MinuteCounts(minute))
        counts = minutes[-1]
        counts.requests += 1
        if kind is OutcomeKind.SUCCESS:
            return
        if kind is OutcomeKind.RATE_LIMITED:
            counts.rate_limited += 1
        elif kind in _ERRORS:
            counts.errors += 1

    @property
    def last_minute(self) -> int | None:
        return self._minutes[-1].minute if self._minutes else None

    def counts(self) -> dict[int, MinuteCounts]:
        return {counts.minute: counts for counts in self._minutes}


def window_of(series: Series | None, now: float) -> Window:
    """The dense last hour of ``series`` at ``now`` (pure)."""
    current = int(now // BUCKET_S)
    counts = series.counts() if series is not None else {}
    buckets = []
    for minute in range(current - WINDOW_MINUTES + 1, current + 1):
        found = counts.get(minute)
        buckets.append(
            Bucket(float(minute * BUCKET_S), found.requests, found.errors, found.rate_limited)
            if found is not None
            else Bucket(float(minute * BUCKET_S), 0, 0, 0)
        )
    # Calls in the last BUCKET_S seconds: the current minute, plus the share of the
    # previous minute that is still inside the sliding window.
    elapsed = now - current * BUCKET_S
    last_minute = buckets[-1].requests + buckets[-2].requests * (BUCKET_S - elapsed) / BUCKET_S
    recent = buckets[-RATIO_MINUTES:]
    calls = sum(b.requests for b in recent)
    failed = sum(b.errors + b.rate_limited for b in recent)
    return Window(
        buckets=tuple(buckets),
        requests_per_s=round(last_minute / BUCKET_S, 4),
        error_ratio=round(failed / calls, 4) if calls else None,
    )


class RequestTimeline:
    """Per-minute calls of the pool and of each key (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._pool = Series()
        self._keys: dict[str, Series] = {}
        self._pruned_minute = 0

    def pool_window(self) -> Window:
        """The pool's last hour."""
        return window_of(self._pool, self._clock())

    def key_window(self, key_id: str) -> Window:
        """One key's last hour (all zero for a key without recent calls)."""
        return window_of(self._keys.get(key_id), self._clock())

    def tracked_keys(self) -> int:
        """How many keys have a series now."""
        return len(self._keys)

    def _prune(self, minute: int) -> None:
        """Drop the series of keys without a call in the window (once per minute)."""
        self._pruned_minute = minute
        oldest = minute - WINDOW_MINUTES
        quiet = [key_id for key_id, s in self._keys.items() if (s.last_minute or 0) <= oldest]
        for key_id in quiet:
            del self._keys[key_id]

    # -- DispatchObserver --------------------------------------------------------------

    def upstream_call(
        self,
        key_id: str,
        model: str,
        outcome: Outcome,
        duration_s: float,
        usage: TokenUsage | None,
        at: float,
    ) -> None:
        minute = int(at // BUCKET_S)
        if minute != self._pruned_minute:
            self._prune(minute)
        kind = outcome.kind
        self._pool.add(minute, kind)
        series = self._keys.get(key_id)
        if series is None:
            series = self._keys[key_id] = Series()
        series.add(minute, kind)

    def retry(self, reason: str) -> None:
        return None

    def refused(self, model: str, status: int) -> None:
        return None


TIMELINE = web.AppKey("timeline", RequestTimeline)
