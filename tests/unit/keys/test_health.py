"""The health score: outcome EWMA, latency factor, recovery over time."""

from __future__ import annotations

import math

import pytest

from gemini_proxy.keys.health import HealthPolicy, HealthState, update_health

POLICY = HealthPolicy(
    alpha=0.5, latency_alpha=0.5, latency_reference_s=2.0, latency_weight=0.2, recovery_half_life_s=100.0
)


def after(outcomes: list[bool], latency_s: float | None = None, now: float = 0.0) -> HealthState:
    state = HealthState(updated_at=now)
    for success in outcomes:
        state = update_health(state, POLICY, now, success=success, latency_s=latency_s)
    return state


class TestScore:
    """How outcomes and latency move the score."""

    @pytest.mark.parametrize(
        ("outcomes", "score"),
        [
            ([], 1.0),
            ([True, True], 1.0),
            ([False], 0.5),
            ([False, False], 0.25),
            ([False, False, True], 0.625),
        ],
    )
    def test_outcomes(self, outcomes: list[bool], score: float) -> None:
        """Each outcome moves the EWMA by alpha toward 1 (success) or 0 (failure)."""
        assert after(outcomes).score(POLICY, 0.0) == pytest.approx(score)

    @pytest.mark.parametrize(("latency", "score"), [(0.5, 1.0), (2.0, 1.0), (4.0, 0.9), (20.0, 0.82)])
    def test_latency(self, latency: float, score: float) -> None:
        """At or under the reference latency costs nothing; slower keys lose part of the latency share."""
        assert after([True], latency_s=latency).score(POLICY, 0.0) == pytest.approx(score)

    def test_latency_scales_outcomes(self) -> None:
        """Slowness scales the outcome part: a failing key scores 0 however fast it fails."""
        slow = update_health(after([True], latency_s=4.0), POLICY, 0.0, success=False)
        assert slow.score(POLICY, 0.0) == pytest.approx(0.5 * 0.9)
        assert after([False] * 60, latency_s=0.1).score(POLICY, 0.0) == pytest.approx(0.0, abs=1e-12)

    def test_latency_ewma(self) -> None:
        """Latency is averaged over successes only; failures carry no latency."""
        state = update_health(after([True], latency_s=4.0), POLICY, 0.0, success=True, latency_s=8.0)
        state = update_health(state, POLICY, 0.0, success=False, latency_s=100.0)
        assert state.latency_ewma_s == pytest.approx(6.0)

    def test_bounds(self) -> None:
        """The score stays within [0, 1] however many failures."""
        score = after([False] * 50, latency_s=None).score(POLICY, 0.0)
        assert 0.0 <= score <= 1.0


class TestRecovery:
    """Without new outcomes, health drifts back toward 1 with a half-life."""

    def test_half_life(self) -> None:
        """After one half-life the outcome deficit has halved."""
        state = after([False, False])  # outcome EWMA 0.25, deficit 0.75
        assert state.outcome_level(POLICY, 100.0) == pytest.approx(1 - 0.375)

    @pytest.mark.parametrize("threshold", [0.3, 0.5, 0.9])
    def test_recovers_at(self, threshold: float) -> None:
        """recovers_at is the first moment the score reaches the threshold."""
        state = after([False] * 6)
        at = state.recovers_at(POLICY, 0.0, threshold)
        assert at > 0.0
        assert state.score(POLICY, at) >= threshold
        assert state.score(POLICY, at - 0.1) < threshold

    def test_already_healthy(self) -> None:
        """A key above the threshold has recovered now."""
        assert after([True]).recovers_at(POLICY, 5.0, 0.5) == 5.0

    def test_unreachable(self) -> None:
        """A threshold the latency penalty alone keeps out of reach is never reached."""
        state = HealthState(outcome_ewma=0.5, latency_ewma_s=200.0)
        assert state.recovers_at(POLICY, 0.0, 0.95) == math.inf


class TestPolicy:
    """Nonsense health policies are refused."""

    @pytest.mark.parametrize(
        "kwargs",
        [{"alpha": 0.0}, {"latency_alpha": 1.5}, {"latency_weight": 1.0}, {"latency_reference_s": 0.0}],
    )
    def test_rejects(self, kwargs: dict[str, float]) -> None:
        """Each invalid field raises ValueError."""
        with pytest.raises(ValueError, match="must"):
            HealthPolicy(**kwargs)
