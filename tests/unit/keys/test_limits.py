"""rpm / rpd / tpm windows on a fake clock, limit resolution, and usage export/restore."""

from __future__ import annotations

import pytest

from gemini_proxy.keys.limits import ModelLimits, RateLimits, UsageWindow, resolve_limits
from gemini_proxy.keys.pacific import next_pacific_midnight, pacific_day_start
from gemini_proxy.store.records import UsageRecord

from .conftest import T0


class TestResolveLimits:
    """Key model > key default > pool model > pool default, field by field."""

    KEY = ModelLimits(default=RateLimits(rpm=10), models={"pro": RateLimits(rpd=5)})
    POOL = ModelLimits(default=RateLimits(rpm=99, rpd=1000, tpm=50_000), models={"pro": RateLimits(tpm=1)})

    @pytest.mark.parametrize(
        ("model", "expected"),
        [
            ("pro", RateLimits(rpm=10, rpd=5, tpm=1)),
            ("flash", RateLimits(rpm=10, rpd=1000, tpm=50_000)),
        ],
    )
    def test_layers(self, model: str, expected: RateLimits) -> None:
        """Each field comes from the most specific layer that sets it."""
        assert resolve_limits(self.KEY, self.POOL, model) == expected

    def test_round_trip_dict(self) -> None:
        """to_dict/from_dict keep every layer (the shape AddedKeyRecord stores)."""
        assert ModelLimits.from_dict(self.KEY.to_dict()) == self.KEY
        assert self.KEY.to_dict() == {"rpm": 10, "models": {"pro": {"rpd": 5}}}

    @pytest.mark.parametrize("field", ["rpm", "rpd", "tpm"])
    def test_rejects_non_positive(self, field: str) -> None:
        """A limit of zero or less is a configuration error."""
        with pytest.raises(ValueError, match=field):
            RateLimits(**{field: 0})


class TestMinuteWindows:
    """Sliding one-minute windows for requests and tokens."""

    @pytest.mark.parametrize(
        ("stamps", "now", "allows", "frees_at"),
        [
            pytest.param([0, 10], 20, True, None, id="under-limit"),
            pytest.param([0, 10, 20], 30, False, 60.0, id="at-limit-oldest-frees"),
            pytest.param([0, 10, 20], 60, True, None, id="oldest-left"),
            pytest.param([0, 0, 0, 0], 30, False, 60.0, id="over-limit"),
        ],
    )
    def test_rpm(self, stamps: list[float], now: float, allows: bool, frees_at: float | None) -> None:
        """With rpm=3, a request frees its slot 60 s after it was made."""
        window = UsageWindow(RateLimits(rpm=3))
        for stamp in stamps:
            window.record(T0 + stamp)
        assert window.allows(T0 + now) is allows
        assert window.frees_at(T0 + now) == (None if frees_at is None else T0 + frees_at)

    def test_tpm(self) -> None:
        """Tokens count for a minute; the window frees when enough of them leave it."""
        window = UsageWindow(RateLimits(tpm=1000))
        window.record(T0, 600, request=False)
        window.record(T0 + 10, 300, request=False)
        assert window.allows(T0 + 20)
        window.record(T0 + 20, 200, request=False)
        assert window.frees_at(T0 + 30) == T0 + 60  # dropping the 600 leaves 500
        assert window.tokens_last_minute(T0 + 61) == 500
        assert window.allows(T0 + 61)

    def test_untracked_without_limit(self) -> None:
        """Without rpm/tpm no minute entries are kept (memory stays flat)."""
        window = UsageWindow(RateLimits(rpd=10))
        window.record(T0, 100)
        assert window.requests_last_minute(T0) == 0
        assert window.tokens_last_minute(T0) == 0


class TestDayWindow:
    """Requests per Pacific day."""

    def test_rpd_until_pacific_midnight(self) -> None:
        """At rpd the window frees at the next Pacific midnight, then counts from zero."""
        window = UsageWindow(RateLimits(rpd=2))
        window.record(T0)
        window.record(T0 + 3600)
        assert window.frees_at(T0 + 7200) == next_pacific_midnight(T0)
        midnight = next_pacific_midnight(T0)
        assert window.allows(midnight)
        assert window.requests_today(midnight) == 0

    def test_tokens_today(self) -> None:
        """Day counters track tokens too."""
        window = UsageWindow(RateLimits(rpd=100))
        window.record(T0, 40)
        window.record(T0 + 1, 2, request=False)
        assert (window.requests_today(T0 + 2), window.tokens_today(T0 + 2)) == (1, 42)


class TestExportRestore:
    """Usage survives a restart: day counters for the same Pacific day, a live minute window."""

    def test_round_trip(self) -> None:
        """Exported records restore the same counts into a fresh window."""
        limits = RateLimits(rpm=5, rpd=10, tpm=10_000)
        window = UsageWindow(limits)
        window.record(T0, 100)
        window.record(T0 + 5, 50)
        records = window.export("k", "flash", T0 + 10)
        assert records == [
            UsageRecord("k", "flash", "day", pacific_day_start(T0), 2, 150),
            UsageRecord("k", "flash", "minute", T0, 2, 150),
        ]
        fresh = UsageWindow(limits)
        assert all(fresh.restore(record, T0 + 20) for record in records)
        assert fresh.requests_today(T0 + 20) == 2
        assert fresh.requests_last_minute(T0 + 20) == 2
        assert fresh.tokens_last_minute(T0 + 20) == 150

    @pytest.mark.parametrize(
        ("record", "used"),
        [
            pytest.param(
                UsageRecord("k", "m", "day", pacific_day_start(T0) - 86_400, 9), False, id="yesterday"
            ),
            pytest.param(UsageRecord("k", "m", "minute", T0 - 61, 3), False, id="minute-over"),
            pytest.param(UsageRecord("k", "m", "minute", T0 + 5, 3), False, id="minute-future"),
            pytest.param(UsageRecord("k", "m", "hour", T0, 3), False, id="unknown-window"),
            pytest.param(UsageRecord("k", "m", "day", pacific_day_start(T0), 9), True, id="today"),
        ],
    )
    def test_stale_records_ignored(self, record: UsageRecord, used: bool) -> None:
        """Only the current Pacific day and a still-running minute are restored."""
        window = UsageWindow(RateLimits(rpm=5, rpd=10))
        assert window.restore(record, T0) is used
        assert window.requests_today(T0) == (9 if used else 0)

    def test_idle_window_exports_nothing(self) -> None:
        """A window with nothing counted today exports no record."""
        window = UsageWindow(RateLimits(rpm=5))
        window.record(T0 - 86_400 * 2)
        assert window.export("k", "m", T0) == []
