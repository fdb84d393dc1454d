"""The circuit breaker's pure transitions, with a fake clock value and a seeded RNG."""

from __future__ import annotations

import random

import pytest

from gemini_proxy.keys.breaker import BreakerPhase, BreakerPolicy, BreakerState

POLICY = BreakerPolicy(failure_threshold=3, base_s=2.0, max_s=900.0, trial_timeout_s=100.0)
NOW = 1000.0


def failed(state: BreakerState, times: int, now: float = NOW, seed: int = 1) -> BreakerState:
    rng = random.Random(seed)
    for _ in range(times):
        state = state.on_failure(now, rng)
    return state


def opened(level: int = 0) -> BreakerState:
    return BreakerState(policy=POLICY, phase=BreakerPhase.OPEN, level=level, open_until=NOW + 10)


class TestClosed:
    """Counting consecutive failures while closed."""

    @pytest.mark.parametrize(("failures", "phase"), [(1, "closed"), (2, "closed"), (3, "open"), (4, "open")])
    def test_opens_at_threshold(self, failures: int, phase: str) -> None:
        """The breaker opens on the threshold-th consecutive failure, not before."""
        assert failed(BreakerState(policy=POLICY), failures).phase == phase

    def test_success_resets_count(self) -> None:
        """A success between failures starts the count again."""
        state = failed(BreakerState(policy=POLICY), 2).on_success()
        assert failed(state, 2).phase is BreakerPhase.CLOSED

    def test_allows(self) -> None:
        """A closed breaker always allows and begin_trial leaves it unchanged."""
        state = BreakerState(policy=POLICY)
        assert state.allows(NOW)
        assert state.begin_trial(NOW) is state


class TestOpenDuration:
    """min(base * 2^n, max) with full jitter and a floor."""

    @pytest.mark.parametrize(
        ("level", "cap"), [(0, 2.0), (1, 4.0), (3, 16.0), (8, 512.0), (9, 900.0), (60, 900.0)]
    )
    def test_within_floor_and_cap(self, level: int, cap: float) -> None:
        """Every draw lies in [min(base, cap), cap]."""
        rng = random.Random(42)
        draws = [POLICY.open_duration(level, rng) for _ in range(500)]
        assert min(draws) >= min(POLICY.base_s, cap)
        assert max(draws) <= cap

    def test_jitter_spreads(self) -> None:
        """At a high level the draws are spread across the range, not one value."""
        rng = random.Random(3)
        draws = [POLICY.open_duration(8, rng) for _ in range(500)]
        assert max(draws) - min(draws) > 400

    def test_never_near_zero(self) -> None:
        """Even an RNG that always draws 0 leaves the breaker open for base_s."""

        class ZeroRandom(random.Random):
            def uniform(self, a: float, b: float) -> float:
                return a

        assert POLICY.open_duration(5, ZeroRandom()) == POLICY.base_s

    def test_open_until(self) -> None:
        """The first opening (level 0, cap = floor = base_s) lasts exactly base_s."""
        state = failed(BreakerState(policy=POLICY), 3)
        assert (state.level, state.open_until) == (0, NOW + 2.0)


class TestOpenAndHalfOpen:
    """Trials through an open breaker."""

    def test_blocks_until_deadline(self) -> None:
        """Open: no request before open_until, a trial from then on."""
        state = opened()
        assert not state.allows(NOW + 9.99)
        assert state.blocked_until(NOW) == NOW + 10
        assert state.allows(NOW + 10)
        assert state.effective_phase(NOW + 10) is BreakerPhase.HALF_OPEN

    def test_single_trial(self) -> None:
        """Once a trial began, a second one is refused until it ends."""
        state = opened().begin_trial(NOW + 10)
        assert state.phase is BreakerPhase.HALF_OPEN
        assert state.trial_in_flight
        assert not state.allows(NOW + 11)
        with pytest.raises(ValueError, match="does not allow"):
            state.begin_trial(NOW + 11)

    def test_begin_trial_too_early(self) -> None:
        """A trial cannot start while the breaker is still open."""
        with pytest.raises(ValueError, match="does not allow"):
            opened().begin_trial(NOW)

    def test_trial_success_closes(self) -> None:
        """The trial's success closes the breaker and resets the level."""
        state = opened(level=4).begin_trial(NOW + 10).on_success()
        assert (state.phase, state.level, state.consecutive_failures) == (BreakerPhase.CLOSED, 0, 0)

    @pytest.mark.parametrize("level", [0, 1, 5])
    def test_trial_failure_reopens_one_level_up(self, level: int) -> None:
        """The trial's failure reopens with n+1 and a duration within that level's cap."""
        state = opened(level).begin_trial(NOW + 10).on_failure(NOW + 11, random.Random(5))
        assert state.phase is BreakerPhase.OPEN
        assert state.level == level + 1
        assert state.open_until is not None
        assert NOW + 11 + 2.0 <= state.open_until <= NOW + 11 + min(2.0 * 2 ** (level + 1), 900.0)

    def test_late_failure_while_open_changes_nothing(self) -> None:
        """A failure reported while open does not extend the open period."""
        state = opened()
        assert state.on_failure(NOW + 1, random.Random(1)) is state

    def test_cancel_trial(self) -> None:
        """An abandoned trial frees the slot for the next one without judging the key."""
        state = opened(level=2).begin_trial(NOW + 10).cancel_trial()
        assert (state.phase, state.level, state.trial_in_flight) == (BreakerPhase.HALF_OPEN, 2, False)
        assert state.allows(NOW + 10)
        assert opened().cancel_trial() == opened()

    def test_trial_timeout(self) -> None:
        """A trial never reported stops blocking the key after trial_timeout_s."""
        state = opened().begin_trial(NOW + 10)
        assert state.blocked_until(NOW + 10) == NOW + 110
        assert not state.allows(NOW + 109)
        assert state.allows(NOW + 110)


class TestPolicyValidation:
    """Nonsense policies are refused."""

    @pytest.mark.parametrize(
        "kwargs",
        [{"failure_threshold": 0}, {"base_s": 0.0}, {"base_s": 10.0, "max_s": 5.0}, {"trial_timeout_s": 0.0}],
    )
    def test_rejects(self, kwargs: dict[str, float]) -> None:
        """Each invalid field raises ValueError."""
        with pytest.raises(ValueError, match=r"must|need"):
            BreakerPolicy(**kwargs)  # type: ignore[arg-type]
