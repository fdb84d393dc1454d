"""Pacific day boundaries, including the days DST starts and ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gemini_proxy.keys.pacific import PacificDays, next_pacific_midnight, pacific_day_start


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


class TestPacificDay:
    """Day start and next midnight for ordinary and DST-change days."""

    @pytest.mark.parametrize(
        ("now", "start", "next_midnight"),
        [
            pytest.param(utc(2025, 6, 2, 12), utc(2025, 6, 2, 7), utc(2025, 6, 3, 7), id="summer-pdt"),
            pytest.param(utc(2025, 1, 15, 12), utc(2025, 1, 15, 8), utc(2025, 1, 16, 8), id="winter-pst"),
            pytest.param(
                utc(2025, 6, 3, 6, 59, 59), utc(2025, 6, 2, 7), utc(2025, 6, 3, 7), id="last-second"
            ),
            pytest.param(utc(2025, 6, 3, 7), utc(2025, 6, 3, 7), utc(2025, 6, 4, 7), id="exactly-midnight"),
            pytest.param(utc(2025, 3, 9, 19), utc(2025, 3, 9, 8), utc(2025, 3, 10, 7), id="dst-starts-23h"),
            pytest.param(
                utc(2025, 3, 9, 9, 30), utc(2025, 3, 9, 8), utc(2025, 3, 10, 7), id="dst-start-before-2am"
            ),
            pytest.param(utc(2025, 11, 2, 20), utc(2025, 11, 2, 7), utc(2025, 11, 3, 8), id="dst-ends-25h"),
            pytest.param(
                utc(2025, 11, 2, 8, 30), utc(2025, 11, 2, 7), utc(2025, 11, 3, 8), id="dst-end-repeated-1am"
            ),
            pytest.param(
                utc(2025, 11, 2, 9, 30), utc(2025, 11, 2, 7), utc(2025, 11, 3, 8), id="dst-end-second-1am"
            ),
        ],
    )
    def test_bounds(self, now: float, start: float, next_midnight: float) -> None:
        """Midnight America/Los_Angeles, whatever the UTC offset that day."""
        assert pacific_day_start(now) == start
        assert next_pacific_midnight(now) == next_midnight

    @pytest.mark.parametrize(
        ("now", "hours"),
        [(utc(2025, 3, 9, 19), 23), (utc(2025, 11, 2, 20), 25), (utc(2025, 6, 2, 12), 24)],
    )
    def test_day_length(self, now: float, hours: int) -> None:
        """DST days are 23 and 25 hours long."""
        assert next_pacific_midnight(now) - pacific_day_start(now) == hours * 3600


class TestPacificDays:
    """The memoising helper agrees with the functions across day changes."""

    def test_follows_time(self) -> None:
        """Bounds change exactly when a midnight is crossed, forward or backward."""
        days = PacificDays()
        for now in (utc(2025, 6, 2, 12), utc(2025, 6, 3, 6, 59), utc(2025, 6, 3, 7), utc(2025, 3, 9, 19)):
            assert days.bounds(now) == (pacific_day_start(now), next_pacific_midnight(now))
            assert days.start(now) == pacific_day_start(now)
            assert days.end(now) == next_pacific_midnight(now)
