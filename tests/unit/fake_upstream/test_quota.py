"""Quota emulation: rolling per-minute windows and per-day counters, per key and model."""

from __future__ import annotations

from datetime import datetime

from gemini_proxy.fake_upstream.quota import (
    QUOTA_TIMEZONE,
    QuotaTracker,
    QuotaWindow,
    seconds_until_quota_day_ends,
)

# 2026-03-10 12:00 in Los Angeles.
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=QUOTA_TIMEZONE).timestamp()


class TestPerMinute:
    def test_admits_up_to_the_limit_then_refuses(self) -> None:
        """rpm requests within 60 s pass; the next one is refused for the minute window."""
        quota = QuotaTracker()
        assert [quota.admit("k", "m", rpm=2, rpd=None, now=NOON + i) for i in range(2)] == [None, None]
        refused = quota.admit("k", "m", rpm=2, rpd=None, now=NOON + 2)
        assert refused is not None
        assert refused.window is QuotaWindow.MINUTE
        assert refused.limit == 2
        assert refused.retry_after_s == 58

    def test_window_rolls(self) -> None:
        """Once the oldest request is 60 s old, a new one fits again."""
        quota = QuotaTracker()
        quota.admit("k", "m", rpm=1, rpd=None, now=NOON)
        assert quota.admit("k", "m", rpm=1, rpd=None, now=NOON + 59) is not None
        assert quota.admit("k", "m", rpm=1, rpd=None, now=NOON + 60) is None

    def test_refused_requests_use_no_quota(self) -> None:
        """A refused request does not extend the window."""
        quota = QuotaTracker()
        quota.admit("k", "m", rpm=1, rpd=None, now=NOON)
        for second in range(1, 59):
            quota.admit("k", "m", rpm=1, rpd=None, now=NOON + second)
        assert quota.admit("k", "m", rpm=1, rpd=None, now=NOON + 60) is None

    def test_keys_and_models_are_separate(self) -> None:
        """Each (key, model) pair has its own window."""
        quota = QuotaTracker()
        quota.admit("k", "m", rpm=1, rpd=None, now=NOON)
        assert quota.admit("k", "other", rpm=1, rpd=None, now=NOON) is None
        assert quota.admit("k2", "m", rpm=1, rpd=None, now=NOON) is None
        assert quota.admit("k", "m", rpm=1, rpd=None, now=NOON) is not None


class TestPerDay:
    def test_day_limit_refuses_until_pacific_midnight(self) -> None:
        """After rpd requests the day window refuses, with the wait until midnight Pacific."""
        quota = QuotaTracker()
        assert quota.admit("k", "m", rpm=None, rpd=1, now=NOON) is None
        refused = quota.admit("k", "m", rpm=None, rpd=1, now=NOON + 3600)
        assert refused is not None
        assert refused.window is QuotaWindow.DAY
        assert refused.retry_after_s == 11 * 3600

    def test_new_pacific_day_resets(self) -> None:
        """The day counter starts again at midnight Pacific."""
        quota = QuotaTracker()
        quota.admit("k", "m", rpm=None, rpd=1, now=NOON)
        assert quota.admit("k", "m", rpm=None, rpd=1, now=NOON + 12 * 3600) is None

    def test_day_checked_before_minute(self) -> None:
        """When both limits are hit the per-day refusal is reported."""
        quota = QuotaTracker()
        quota.admit("k", "m", rpm=1, rpd=1, now=NOON)
        refused = quota.admit("k", "m", rpm=1, rpd=1, now=NOON + 1)
        assert refused is not None and refused.window is QuotaWindow.DAY

    def test_clear_forgets_usage(self) -> None:
        """clear() empties every window and counter."""
        quota = QuotaTracker()
        quota.admit("k", "m", rpm=1, rpd=1, now=NOON)
        quota.clear()
        assert quota.admit("k", "m", rpm=1, rpd=1, now=NOON) is None

    def test_seconds_until_midnight(self) -> None:
        """From noon Pacific there are twelve hours to the reset."""
        assert seconds_until_quota_day_ends(NOON) == 12 * 3600
