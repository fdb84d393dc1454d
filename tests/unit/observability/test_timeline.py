"""The per-minute timeline of upstream calls behind the dashboard's charts."""

from __future__ import annotations

from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.observability.timeline import BUCKET_S, WINDOW_MINUTES, RequestTimeline, Series, window_of

MINUTE0 = 29_166_667 * 60.0  # the start of a minute in June 2025
START = MINUTE0 + 20


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _call(timeline: RequestTimeline, clock: Clock, key_id: str, kind: OutcomeKind, n: int = 1) -> None:
    """``n`` calls ending now on ``clock`` (the dispatcher passes its time of each call)."""
    for _ in range(n):
        timeline.upstream_call(key_id, "gemini-2.5-flash", Outcome(kind, "x"), 0.01, None, clock())


class TestWindow:
    def test_sixty_buckets_oldest_first_ending_with_the_current_minute(self) -> None:
        """The window has one bucket per minute of the last hour; the last starts this minute."""
        window = window_of(None, MINUTE0 + 30)
        assert len(window.buckets) == WINDOW_MINUTES
        assert window.buckets[-1].start == MINUTE0
        assert window.buckets[0].start == MINUTE0 - (WINDOW_MINUTES - 1) * BUCKET_S
        assert window.requests_per_s == 0 and window.error_ratio is None

    def test_outcomes_land_in_their_series(self) -> None:
        """A 429 counts as rate limited, a rejection or a 5xx as an error, a client error as a call only."""
        series = Series()
        minute = int(MINUTE0 // 60)
        for kind in (
            OutcomeKind.SUCCESS,
            OutcomeKind.RATE_LIMITED,
            OutcomeKind.KEY_REJECTED,
            OutcomeKind.TRANSIENT,
            OutcomeKind.CLIENT_ERROR,
        ):
            series.add(minute, kind)
        last = window_of(series, MINUTE0 + 1).buckets[-1]
        assert (last.requests, last.errors, last.rate_limited) == (5, 2, 1)

    def test_rate_slides_over_the_minute_boundary(self) -> None:
        """Calls/s counts this minute and the part of the previous one still inside the last 60 s."""
        series = Series()
        minute = int(MINUTE0 // 60)
        for _ in range(60):
            series.add(minute - 1, OutcomeKind.SUCCESS)
        for _ in range(30):
            series.add(minute, OutcomeKind.SUCCESS)
        # 15 s into this minute: 45 s of the previous minute still count (45 of its 60 calls).
        assert window_of(series, MINUTE0 + 15).requests_per_s == (30 + 45) / 60

    def test_error_ratio_covers_the_last_five_minutes(self) -> None:
        """Failures (errors and 429s) over calls of the last 5 minutes; older minutes do not count."""
        series = Series()
        minute = int(MINUTE0 // 60)
        series.add(minute - 10, OutcomeKind.TRANSIENT)
        series.add(minute - 4, OutcomeKind.RATE_LIMITED)
        for _ in range(3):
            series.add(minute, OutcomeKind.SUCCESS)
        assert window_of(series, MINUTE0).error_ratio == 0.25


class TestRequestTimeline:
    def test_pool_and_key_series(self) -> None:
        """Each call counts in the pool's series and in its key's; other keys stay at zero."""
        clock = Clock(START)
        timeline = RequestTimeline(clock=clock)
        _call(timeline, clock, "aaaaaaaaaaaa", OutcomeKind.SUCCESS, 3)
        _call(timeline, clock, "bbbbbbbbbbbb", OutcomeKind.RATE_LIMITED)
        clock.now += BUCKET_S
        _call(timeline, clock, "aaaaaaaaaaaa", OutcomeKind.TRANSIENT)
        pool = timeline.pool_window()
        assert [(b.requests, b.errors, b.rate_limited) for b in pool.buckets[-2:]] == [(4, 0, 1), (1, 1, 0)]
        key_a = timeline.key_window("aaaaaaaaaaaa")
        assert [b.requests for b in key_a.buckets[-2:]] == [3, 1]
        assert sum(b.requests for b in timeline.key_window("cccccccccccc").buckets) == 0

    def test_an_hour_later_the_calls_have_left_the_window(self) -> None:
        """Calls older than the window are gone from the pool's and the key's buckets."""
        clock = Clock(START)
        timeline = RequestTimeline(clock=clock)
        _call(timeline, clock, "aaaaaaaaaaaa", OutcomeKind.SUCCESS, 5)
        clock.now += WINDOW_MINUTES * BUCKET_S
        assert sum(b.requests for b in timeline.pool_window().buckets) == 0
        assert sum(b.requests for b in timeline.key_window("aaaaaaaaaaaa").buckets) == 0

    def test_quiet_keys_are_dropped(self) -> None:
        """A key without calls for the whole window no longer holds memory; a busy key stays."""
        clock = Clock(START)
        timeline = RequestTimeline(clock=clock)
        _call(timeline, clock, "aaaaaaaaaaaa", OutcomeKind.SUCCESS)
        _call(timeline, clock, "bbbbbbbbbbbb", OutcomeKind.SUCCESS)
        for _ in range(WINDOW_MINUTES + 1):
            clock.now += BUCKET_S
            _call(timeline, clock, "bbbbbbbbbbbb", OutcomeKind.SUCCESS)
        assert timeline.tracked_keys() == 1
        assert timeline.key_window("bbbbbbbbbbbb").buckets[-1].requests == 1
