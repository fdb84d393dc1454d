"""Pacific-time day boundaries: Gemini's daily quotas reset at midnight America/Los_Angeles.

Days in Los Angeles are 23, 24 or 25 hours long (DST starts and ends at 02:00 local, so
midnight itself always exists exactly once). All functions take and return Unix times.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

PACIFIC = ZoneInfo("America/Los_Angeles")


def pacific_day_start(now: float) -> float:
    """The Unix time of the Pacific midnight that began the day containing ``now``."""
    local = datetime.fromtimestamp(now, PACIFIC)
    midnight = datetime(local.year, local.month, local.day, tzinfo=PACIFIC)
    return midnight.timestamp()


def next_pacific_midnight(now: float) -> float:
    """The Unix time of the first Pacific midnight strictly after ``now``."""
    local = datetime.fromtimestamp(now, PACIFIC)
    tomorrow = local.date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=PACIFIC)
    return midnight.timestamp()


class PacificDays:
    """Memoises the current Pacific day's bounds, so hot paths pay one comparison per call.

    ``bounds(now)`` recomputes only when ``now`` leaves the remembered day.
    """

    __slots__ = ("_end", "_start")

    def __init__(self) -> None:
        self._start = 0.0
        self._end = 0.0

    def bounds(self, now: float) -> tuple[float, float]:
        """``(start, end)`` of the Pacific day containing ``now``; ``end`` is the next midnight."""
        if not self._start <= now < self._end:
            self._start = pacific_day_start(now)
            self._end = next_pacific_midnight(now)
        return self._start, self._end

    def start(self, now: float) -> float:
        """The start of the Pacific day containing ``now``."""
        return self.bounds(now)[0]

    def end(self, now: float) -> float:
        """The next Pacific midnight after ``now``."""
        return self.bounds(now)[1]
