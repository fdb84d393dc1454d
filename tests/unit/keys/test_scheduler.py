"""The scheduler's strategies over a scripted gate: skipping, recovery, fairness, cost."""

from __future__ import annotations

from collections import Counter

import pytest

from gemini_proxy.keys.scheduler import Gate, Scheduler, Strategy

ALL_STRATEGIES = list(Strategy)
KEYS = [f"k{i}" for i in range(6)]


class ScriptedGate:
    """A gate answering from tables; counts how often it is asked."""

    def __init__(self) -> None:
        self.blocked: dict[tuple[str, str], float] = {}
        self.fallback: dict[str, float] = {}
        self.parked: set[str] = set()
        self.weights: dict[str, float] = {}
        self.calls = 0

    def __call__(self, key_id: str, model: str, now: float) -> tuple[Gate, float]:
        self.calls += 1
        if key_id in self.parked:
            return (Gate.PARKED, 0.0)
        until = self.blocked.get((key_id, model), 0.0)
        if until > now:
            return (Gate.BLOCKED, until)
        recovery = self.fallback.get(key_id, 0.0)
        if recovery > now:
            return (Gate.FALLBACK, recovery)
        return (Gate.READY, 0.0)

    def weight(self, key_id: str, now: float) -> float:
        return self.weights.get(key_id, 1.0)


def build(strategy: Strategy, keys: list[str] = KEYS) -> tuple[Scheduler, ScriptedGate]:
    gate = ScriptedGate()
    scheduler = Scheduler(strategy, gate, gate.weight)
    for key_id in keys:
        scheduler.add(key_id)
    return scheduler, gate


def picks(scheduler: Scheduler, n: int, now: float = 0.0, model: str = "m") -> list[str | None]:
    return [scheduler.pick(model, now) for _ in range(n)]


class TestSkipping:
    """Every strategy passes over keys that cannot serve."""

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_skips_blocked_parked_and_low_health(self, strategy: Strategy) -> None:
        """Only READY keys are picked while any exists."""
        scheduler, gate = build(strategy)
        gate.blocked[("k0", "m")] = 100.0
        gate.parked.add("k1")
        gate.fallback["k2"] = 50.0
        assert set(picks(scheduler, 30)) == {"k3", "k4", "k5"}

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_per_model(self, strategy: Strategy) -> None:
        """A key blocked for one model still serves another."""
        scheduler, gate = build(strategy, ["a", "b"])
        gate.blocked[("a", "pro")] = 100.0
        assert set(picks(scheduler, 4, model="pro")) == {"b"}
        assert set(picks(scheduler, 4, model="flash")) == {"a", "b"}

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_fallback_when_nothing_ready(self, strategy: Strategy) -> None:
        """With no READY key, the low-health key that recovers soonest serves."""
        scheduler, gate = build(strategy, ["a", "b", "c"])
        gate.fallback.update({"a": 90.0, "b": 30.0})
        gate.blocked[("c", "m")] = 10.0
        assert picks(scheduler, 3) == ["b", "b", "b"]

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_none_when_nothing_can_serve(self, strategy: Strategy) -> None:
        """Blocked and parked keys only: no pick."""
        scheduler, gate = build(strategy, ["a", "b"])
        gate.blocked[("a", "m")] = 10.0
        gate.parked.add("b")
        assert scheduler.pick("m", 0.0) is None

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_exclude(self, strategy: Strategy) -> None:
        """Excluded keys are never picked, and excluding all READY keys gives None."""
        scheduler, _ = build(strategy, ["a", "b", "c"])
        assert {scheduler.pick("m", 0.0, exclude={"a", "b"}) for _ in range(5)} == {"c"}
        assert scheduler.pick("m", 0.0, exclude={"a", "b", "c"}) is None
        assert set(picks(scheduler, 12)) == {"a", "b", "c"}

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_exclude_in_fallback(self, strategy: Strategy) -> None:
        """Exclusion also applies to fallback keys."""
        scheduler, gate = build(strategy, ["a", "b"])
        gate.fallback.update({"a": 10.0, "b": 20.0})
        assert scheduler.pick("m", 0.0, exclude={"a"}) == "b"
        assert scheduler.pick("m", 0.0) == "a"


class TestRecovery:
    """Keys come back when their time passes, or when woken."""

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_back_when_time_passes(self, strategy: Strategy) -> None:
        """A blocked key is picked again once its until has passed."""
        scheduler, gate = build(strategy, ["a", "b"])
        gate.blocked[("a", "m")] = 10.0
        assert set(picks(scheduler, 4, now=5.0)) == {"b"}
        assert "a" in picks(scheduler, 4, now=10.0)

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_extended_block_rechecked(self, strategy: Strategy) -> None:
        """A key whose block was extended is not picked when the old time passes."""
        scheduler, gate = build(strategy, ["a", "b"])
        gate.blocked[("a", "m")] = 10.0
        picks(scheduler, 2, now=0.0)
        gate.blocked[("a", "m")] = 50.0
        assert set(picks(scheduler, 4, now=20.0)) == {"b"}
        assert "a" in picks(scheduler, 4, now=50.0)

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_wake(self, strategy: Strategy) -> None:
        """A key unblocked early comes back as soon as the pool wakes it."""
        scheduler, gate = build(strategy, ["a", "b"])
        gate.blocked[("a", "m")] = 1000.0
        gate.parked.add("b")
        assert scheduler.pick("m", 0.0) is None
        del gate.blocked[("a", "m")]
        gate.parked.discard("b")
        scheduler.wake("a")
        scheduler.wake("b")
        assert set(picks(scheduler, 4)) == {"a", "b"}

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_earliest_recovery(self, strategy: Strategy) -> None:
        """Now when a key can serve, else the earliest true until, else None."""
        scheduler, gate = build(strategy, ["a", "b", "c"])
        assert scheduler.earliest_recovery("m", 0.0) == 0.0
        gate.blocked.update({("a", "m"): 30.0, ("b", "m"): 20.0})
        gate.parked.add("c")
        assert scheduler.earliest_recovery("m", 0.0) == 20.0
        gate.blocked[("b", "m")] = 40.0  # extended behind the scheduler's back
        assert scheduler.earliest_recovery("m", 0.0) == 30.0
        gate.blocked.clear()
        gate.parked.add("a")
        gate.parked.add("b")
        assert scheduler.earliest_recovery("m", 100.0) is None

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_add_and_remove(self, strategy: Strategy) -> None:
        """Added keys join every model; removed keys are never picked again."""
        scheduler, _ = build(strategy, ["a"])
        picks(scheduler, 2)
        scheduler.add("b")
        assert set(picks(scheduler, 4)) == {"a", "b"}
        scheduler.remove("a")
        assert set(picks(scheduler, 4)) == {"b"}


class TestFairness:
    """How each strategy shares picks among READY keys."""

    def test_round_robin_cycles(self) -> None:
        """Round robin visits keys in order and gives each the same number of picks."""
        scheduler, _ = build(Strategy.ROUND_ROBIN)
        assert picks(scheduler, 12) == KEYS + KEYS

    def test_round_robin_returning_key_joins_the_back(self) -> None:
        """A key back from a cooldown takes its turn after the others."""
        scheduler, gate = build(Strategy.ROUND_ROBIN, ["a", "b", "c"])
        gate.blocked[("a", "m")] = 10.0
        assert picks(scheduler, 2, now=0.0) == ["b", "c"]
        assert picks(scheduler, 3, now=10.0) == ["b", "c", "a"]

    def test_least_used_balances(self) -> None:
        """least_used spreads picks evenly."""
        scheduler, _ = build(Strategy.LEAST_USED)
        assert set(Counter(picks(scheduler, 600)).values()) == {100}

    def test_least_used_no_catch_up_burst(self) -> None:
        """A key back after a long block joins at the current minimum, not at its old count."""
        scheduler, gate = build(Strategy.LEAST_USED, ["a", "b", "c"])
        gate.blocked[("a", "m")] = 10.0
        picks(scheduler, 300, now=0.0)
        later = Counter(picks(scheduler, 30, now=10.0))
        assert later["a"] <= 11

    def test_weighted_shares(self) -> None:
        """weighted gives picks in proportion to the pool's weights."""
        scheduler, gate = build(Strategy.WEIGHTED, ["a", "b", "c"])
        gate.weights.update({"a": 1.0, "b": 2.0, "c": 0.5})
        counts = Counter(picks(scheduler, 3500))
        assert counts == {"a": 1000, "b": 2000, "c": 500}

    def test_weighted_needs_weights(self) -> None:
        """The weighted strategy refuses to start without a weight function."""
        with pytest.raises(ValueError, match="weight"):
            Scheduler(Strategy.WEIGHTED, ScriptedGate())


class TestCost:
    """The gate is asked about O(1) keys per pick, amortized."""

    @pytest.mark.parametrize("strategy", ALL_STRATEGIES)
    def test_blocked_half_costs_once(self, strategy: Strategy) -> None:
        """With half of 2,000 keys blocked, 20,000 picks ask the gate about 21,000 times, not millions."""
        keys = [f"k{i}" for i in range(2000)]
        scheduler, gate = build(strategy, keys)
        for key_id in keys[::2]:
            gate.blocked[(key_id, "m")] = 1e9
        chosen = picks(scheduler, 20_000)
        assert None not in chosen
        assert gate.calls <= 20_000 + 1000 + 10

    def test_bounded_models(self) -> None:
        """Per-model structures are capped; an evicted model is rebuilt on demand."""
        gate = ScriptedGate()
        scheduler = Scheduler(Strategy.ROUND_ROBIN, gate, max_models=4)
        scheduler.add("a")
        gate.blocked[("a", "m0")] = 100.0
        assert scheduler.pick("m0", 0.0) is None
        for i in range(1, 10):
            assert scheduler.pick(f"m{i}", 0.0) == "a"
        assert scheduler.waiting_count("m0") == 0  # evicted
        assert scheduler.pick("m0", 0.0) is None
        assert scheduler.pick("m0", 100.0) == "a"
