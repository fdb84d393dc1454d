"""Real-quota emulation for the fake: requests per minute (rolling) and per day (Pacific).

Gemini counts quota per project and model; the fake counts per API key and model. A
request is admitted when it stays within both limits, and only admitted requests use
quota, so a client that backs off for the advertised delay gets through again. Time is
an argument (epoch seconds), so the windows are tested without sleeping.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

MINUTE_S = 60.0
# Gemini's per-day quotas reset at midnight Pacific time.
QUOTA_TIMEZONE = ZoneInfo("America/Los_Angeles")


class QuotaWindow(StrEnum):
    """Which quota a refused request ran into."""

    MINUTE = "minute"
    DAY = "day"


@dataclass(frozen=True)
class QuotaExceeded:
    """A refused request: the window, its limit and how long until a request fits again."""

    window: QuotaWindow
    limit: int
    retry_after_s: float


def seconds_until_quota_day_ends(now: float) -> float:
    """Seconds from ``now`` to the next midnight in Pacific time (when per-day quotas reset)."""
    local = datetime.fromtimestamp(now, QUOTA_TIMEZONE)
    next_midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), QUOTA_TIMEZONE)
    return max(0.0, next_midnight.timestamp() - now)


def quota_day(now: float) -> date:
    """The Pacific calendar day ``now`` falls in."""
    return datetime.fromtimestamp(now, QUOTA_TIMEZONE).date()


class QuotaTracker:
    """Rolling 60 s windows and per-day counters, one of each per (key, model)."""

    def __init__(self) -> None:
        self._minute: dict[tuple[str, str], deque[float]] = {}
        self._day: dict[tuple[str, str], tuple[date, int]] = {}

    def admit(
        self, key: str, model: str, *, rpm: int | None, rpd: int | None, now: float
    ) -> QuotaExceeded | None:
        """Use one request of quota, or say which limit refuses it (the day limit is checked first)."""
        pair = (key, model)
        today = quota_day(now)
        used_today = 0
        if rpd is not None:
            day, count = self._day.get(pair, (today, 0))
            used_today = count if day == today else 0
            if used_today >= rpd:
                return QuotaExceeded(QuotaWindow.DAY, rpd, math.ceil(seconds_until_quota_day_ends(now)))
        if rpm is not None:
            window = self._minute.setdefault(pair, deque())
            while window and window[0] <= now - MINUTE_S:
                window.popleft()
            if len(window) >= rpm:
                wait = window[len(window) - rpm] + MINUTE_S - now
                return QuotaExceeded(QuotaWindow.MINUTE, rpm, max(1.0, math.ceil(wait)))
            window.append(now)
        if rpd is not None:
            self._day[pair] = (today, used_today + 1)
        return None

    def clear(self) -> None:
        """Forget all usage."""
        self._minute.clear()
        self._day.clear()
