"""The background prober: re-tests disabled keys when due, with the supplied probe only."""

from __future__ import annotations

import asyncio

import pytest

from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.prober import probe_due_keys, run_prober

from .conftest import FakeClock, PoolFactory, secret

INVALID = Outcome(OutcomeKind.KEY_REJECTED, "API_KEY_INVALID")


class ScriptedProbe:
    """A probe answering per secret from a table; records what it was asked."""

    def __init__(self, answers: dict[str, Outcome | Exception]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, secret_value: str) -> Outcome:
        self.asked.append(secret_value)
        answer = self.answers[secret_value]
        if isinstance(answer, Exception):
            raise answer
        return answer


class TestProbeDueKeys:
    """One probing pass."""

    async def test_only_due_keys(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """Nothing is probed before the schedule; then each disabled key once."""
        pool = pool_factory(2)
        lease = pool.acquire("flash")
        pool.release(lease, INVALID, latency_s=0.1)
        probe = ScriptedProbe({secret(0): SUCCESS})
        assert await probe_due_keys(pool, probe, clock=clock) == 0
        clock.advance(60)
        assert await probe_due_keys(pool, probe, clock=clock) == 1
        assert probe.asked == [secret(0)]
        assert pool.summary().disabled == 0

    @pytest.mark.parametrize(
        ("answer", "enabled", "event"),
        [
            pytest.param(SUCCESS, True, KeyEventKind.ENABLED, id="success"),
            pytest.param(
                Outcome(OutcomeKind.RATE_LIMITED, "bare_429"), True, KeyEventKind.ENABLED, id="429-accepted"
            ),
            pytest.param(
                Outcome(OutcomeKind.CLIENT_ERROR, "http_404"), True, KeyEventKind.ENABLED, id="404-accepted"
            ),
            pytest.param(INVALID, False, KeyEventKind.PROBE_FAILED, id="still-invalid"),
            pytest.param(
                Outcome(OutcomeKind.TRANSIENT, "timeout"),
                False,
                KeyEventKind.PROBE_FAILED,
                id="probe-timeout",
            ),
            pytest.param(RuntimeError("boom"), False, KeyEventKind.PROBE_FAILED, id="probe-raised"),
        ],
    )
    async def test_results(
        self,
        pool_factory: PoolFactory,
        clock: FakeClock,
        events: list[KeyEvent],
        answer: Outcome | Exception,
        enabled: bool,
        event: KeyEventKind,
    ) -> None:
        """An accepted key comes back; a rejected one, or a probe that raised, waits for the next probe."""
        pool = pool_factory(1)
        pool.release(pool.acquire("flash"), INVALID, latency_s=0.1)
        clock.advance(60)
        await probe_due_keys(pool, ScriptedProbe({secret(0): answer}), clock=clock)
        assert (pool.summary().disabled == 0) is enabled
        assert events[-1].kind is event


class TestRunProber:
    """The loop runs until stopped."""

    async def test_loop_reenables_and_stops(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """The loop probes due keys every interval and returns once stop is set."""
        pool = pool_factory(2)
        for _ in range(2):
            pool.release(pool.acquire("flash"), INVALID, latency_s=0.1)
        clock.advance(3600)
        probe = ScriptedProbe({secret(0): SUCCESS, secret(1): INVALID})
        stop = asyncio.Event()
        task = asyncio.create_task(run_prober(pool, probe, interval_s=0.01, clock=clock, stop=stop))
        for _ in range(100):
            await asyncio.sleep(0.005)
            if pool.summary().disabled == 1 and len(probe.asked) >= 2:
                break
        stop.set()
        await asyncio.wait_for(task, timeout=1.0)
        assert pool.summary().disabled == 1
        assert sorted(probe.asked[:2]) == sorted([secret(0), secret(1)])

    async def test_rejects_bad_interval(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A non-positive interval is refused."""
        with pytest.raises(ValueError, match="interval_s"):
            await run_prober(
                pool_factory(1), ScriptedProbe({}), interval_s=0, clock=clock, stop=asyncio.Event()
            )
