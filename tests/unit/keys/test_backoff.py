"""Probe backoff for disabled keys and the 429 backoff when no delay was stated."""

from __future__ import annotations

import random

import pytest

from gemini_proxy.keys.backoff import ProbePolicy, RateLimitBackoff


class TestProbePolicy:
    """Minutes at first, growing to hours, never past the maximum."""

    @pytest.mark.parametrize(
        ("failures", "cap"),
        [(0, 60.0), (1, 120.0), (2, 240.0), (5, 1920.0), (8, 15360.0), (9, 21600.0), (100, 21600.0)],
    )
    def test_delay_range(self, failures: int, cap: float) -> None:
        """The delay lies in [cap * (1 - jitter), cap] with cap = min(60 * 2^n, 6 h)."""
        policy = ProbePolicy()
        rng = random.Random(11)
        for _ in range(200):
            assert cap * 0.9 <= policy.delay(failures, rng) <= cap

    def test_no_jitter_is_exact(self) -> None:
        """With jitter 0 the schedule is the plain capped exponential."""
        policy = ProbePolicy(initial_s=10, max_s=100, factor=3, jitter=0)
        assert [policy.delay(n, random.Random(0)) for n in range(4)] == [10, 30, 90, 100]


class TestRateLimitBackoff:
    """Short exponential cooldowns (5 s to 60 s) for 429s without a delay."""

    @pytest.mark.parametrize(
        ("streak", "cap"), [(0, 5.0), (1, 10.0), (2, 20.0), (3, 40.0), (4, 60.0), (50, 60.0)]
    )
    def test_delay_range(self, streak: int, cap: float) -> None:
        """The delay lies in [cap * 0.8, cap] with cap = min(5 * 2^n, 60)."""
        policy = RateLimitBackoff()
        rng = random.Random(5)
        for _ in range(200):
            assert cap * 0.8 <= policy.delay(streak, rng) <= cap

    @pytest.mark.parametrize(
        "kwargs",
        [{"initial_s": 0}, {"initial_s": 10, "max_s": 5}, {"factor": 0.5}, {"jitter": 1.0}, {"jitter": -0.1}],
    )
    def test_rejects_invalid(self, kwargs: dict[str, float]) -> None:
        """Invalid shapes raise ValueError for both policies."""
        with pytest.raises(ValueError, match=r"must|need"):
            RateLimitBackoff(**kwargs)
        with pytest.raises(ValueError, match=r"must|need"):
            ProbePolicy(**kwargs)
