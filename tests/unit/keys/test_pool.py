"""KeyPool: the request cycle, cooldowns, breaker, disables, limits and health."""

from __future__ import annotations

import pytest

from gemini_proxy.errors import NoKeyAvailable
from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.limits import ModelLimits, RateLimits
from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.pacific import next_pacific_midnight
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.keys.scheduler import Strategy

from .conftest import T0, FakeClock, PoolFactory, secret

PER_MINUTE = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=30.0)
PER_DAY = Outcome(OutcomeKind.RATE_LIMITED, "per_day_quota", retry_after_s=26.0, per_day=True)
NO_QUOTA = Outcome(OutcomeKind.RATE_LIMITED, "no_quota", no_quota=True)
BARE_429 = Outcome(OutcomeKind.RATE_LIMITED, "bare_429")
INVALID = Outcome(OutcomeKind.KEY_REJECTED, "API_KEY_INVALID")
HTTP_500 = Outcome(OutcomeKind.TRANSIENT, "http_500")
HTTP_503 = Outcome(OutcomeKind.TRANSIENT, "http_503")
BAD_REQUEST = Outcome(OutcomeKind.CLIENT_ERROR, "http_400")


def ids(pool: KeyPool) -> list[str]:
    return [view.key_id for view in pool.views()]


def use(pool: KeyPool, model: str, outcome: Outcome, *, exclude: tuple[str, ...] = ()) -> str:
    """Acquire a key for ``model`` and release it with ``outcome``; return the key id."""
    lease = pool.acquire(model, exclude=exclude)
    pool.release(lease, outcome, latency_s=0.5)
    return lease.key_id


def fail_key(pool: KeyPool, target: str, outcome: Outcome, model: str = "flash") -> None:
    """Release ``outcome`` on the key ``target`` (cycling past the others)."""
    for _ in range(len(pool) * 2):
        lease = pool.acquire(model)
        if lease.key_id == target:
            pool.release(lease, outcome, latency_s=0.1)
            return
        pool.release(lease, SUCCESS, latency_s=0.1)
    raise AssertionError(f"{target} was never picked")


def kinds(events: list[KeyEvent]) -> list[tuple[KeyEventKind, str, str | None]]:
    return [(event.kind, event.key_id, event.model) for event in events]


class TestAcquire:
    """Leases and round robin."""

    def test_round_robin(self, pool_factory: PoolFactory) -> None:
        """Keys are lent in turn, each with its secret and the model asked for."""
        pool = pool_factory(3)
        leases = [pool.acquire("flash") for _ in range(6)]
        assert [lease.key_id for lease in leases] == ids(pool) * 2
        assert leases[0].secret == secret(0)
        assert (leases[0].model, leases[0].is_trial) == ("flash", False)

    def test_lease_repr_hides_secret(self, pool_factory: PoolFactory) -> None:
        """A lease printed in a log shows no raw key."""
        lease = pool_factory(1).acquire("flash")
        assert secret(0) not in repr(lease)

    def test_release_twice_is_ignored(self, pool_factory: PoolFactory) -> None:
        """A second release of the same lease changes nothing."""
        pool = pool_factory(1)
        lease = pool.acquire("flash")
        pool.release(lease, SUCCESS, latency_s=0.1)
        pool.release(lease, INVALID, latency_s=0.1)
        assert pool.views()[0].status == "active"
        assert pool.views()[0].requests == 1

    def test_empty_pool(self, pool_factory: PoolFactory) -> None:
        """A pool without keys answers 503 (nothing usable)."""
        with pytest.raises(NoKeyAvailable) as caught:
            pool_factory(0).acquire("flash")
        assert caught.value.all_disabled
        assert caught.value.status == 503

    def test_exclude(self, pool_factory: PoolFactory) -> None:
        """Keys already tried for a request are not lent again for it."""
        pool = pool_factory(2)
        first = pool.acquire("flash")
        second = pool.acquire("flash", exclude=[first.key_id])
        assert second.key_id != first.key_id
        with pytest.raises(NoKeyAvailable):
            pool.acquire("flash", exclude=[first.key_id, second.key_id])

    @pytest.mark.parametrize("strategy", list(Strategy))
    def test_strategies_serve(self, pool_factory: PoolFactory, strategy: Strategy) -> None:
        """Every strategy lends every healthy key."""
        pool = pool_factory(4, strategy=strategy)
        assert {use(pool, "flash", SUCCESS) for _ in range(8)} == set(ids(pool))


class TestRateLimits:
    """429s cool (key, model) pairs, per project when keys share one."""

    def test_cools_only_that_model(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A 429 on one model benches the key for that model only (F#39)."""
        pool = pool_factory(2)
        k0, k1 = ids(pool)
        fail_key(pool, k0, PER_MINUTE, model="pro")
        assert {use(pool, "pro", SUCCESS) for _ in range(4)} == {k1}
        assert {use(pool, "flash", SUCCESS) for _ in range(4)} == {k0, k1}
        clock.advance(30)
        assert {use(pool, "pro", SUCCESS) for _ in range(4)} == {k0, k1}

    def test_stated_delay(self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]) -> None:
        """The cooldown lasts exactly the delay the 429 asked for, and is reported."""
        pool = pool_factory(1)
        use(pool, "pro", PER_MINUTE)
        assert events[-1] == KeyEvent(KeyEventKind.COOLED, ids(pool)[0], "pro", "per_minute_quota", T0 + 30)
        assert pool.views()[0].status == "cooling"
        assert pool.earliest_recovery("pro") == T0 + 30
        clock.advance(29.9)
        with pytest.raises(NoKeyAvailable):
            pool.acquire("pro")
        clock.advance(0.1)
        assert pool.acquire("pro").key_id == ids(pool)[0]

    @pytest.mark.parametrize("outcome", [PER_DAY, NO_QUOTA], ids=["per-day", "limit-zero"])
    def test_until_pacific_midnight(
        self, pool_factory: PoolFactory, clock: FakeClock, outcome: Outcome
    ) -> None:
        """A daily quota (or no quota) cools the pair until the next Pacific midnight."""
        pool = pool_factory(1)
        use(pool, "pro", outcome)
        midnight = next_pacific_midnight(T0)
        cooldown = pool.views()[0].cooldowns[0]
        assert (cooldown.model, cooldown.until, cooldown.per_day) == ("pro", midnight, True)
        clock.now = midnight - 1
        with pytest.raises(NoKeyAvailable):
            pool.acquire("pro")
        clock.now = midnight
        assert pool.acquire("pro").model == "pro"

    def test_backoff_without_delay_grows_and_resets(
        self, pool_factory: PoolFactory, clock: FakeClock
    ) -> None:
        """Bare 429s in a row cool for 5 s, then 10 s...; a success starts over."""
        pool = pool_factory(1)
        cooldowns = []
        for _ in range(3):
            use(pool, "flash", BARE_429)
            until = pool.views()[0].cooldowns[0].until
            cooldowns.append(until - clock.now)
            clock.now = until
        assert 4.0 <= cooldowns[0] <= 5.0
        assert 8.0 <= cooldowns[1] <= 10.0
        assert 16.0 <= cooldowns[2] <= 20.0
        use(pool, "flash", SUCCESS)
        use(pool, "flash", BARE_429)
        assert pool.views()[0].cooldowns[0].until - clock.now <= 5.0

    def test_late_429_does_not_pile_up(self, pool_factory: PoolFactory) -> None:
        """429s from requests already in flight neither lengthen the backoff nor sink health."""
        pool = pool_factory(1)
        leases = [pool.acquire("flash") for _ in range(5)]
        for lease in leases:
            pool.release(lease, BARE_429, latency_s=0.1)
        view = pool.views()[0]
        assert view.cooldowns[0].until - T0 <= 5.0
        assert view.health == pytest.approx(0.8)  # one failure, not five

    def test_project_shares_cooldown(
        self, clock: FakeClock, events: list[KeyEvent], pool_factory: PoolFactory
    ) -> None:
        """A 429 on one key of a project cools every key of that project for that model (F#40)."""
        specs = [
            KeySpec(secret(0), project="p1"),
            KeySpec(secret(1), project="p1"),
            KeySpec(secret(2), project="p2"),
            KeySpec(secret(3)),
        ]
        pool = pool_factory(specs)
        k0, k1, k2, k3 = ids(pool)
        fail_key(pool, k0, PER_DAY, model="pro")
        assert {use(pool, "pro", SUCCESS) for _ in range(6)} == {k2, k3}
        assert {use(pool, "flash", SUCCESS) for _ in range(8)} == {k0, k1, k2, k3}
        cooled = [(e.key_id, e.model) for e in events if e.kind is KeyEventKind.COOLED]
        assert cooled == [(k0, "pro"), (k1, "pro")]

    def test_no_key_retry_after(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """When every key cools, retry_after_s is the time until the first one recovers."""
        pool = pool_factory(2)
        k0, k1 = ids(pool)
        fail_key(pool, k0, Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=40.0))
        fail_key(pool, k1, Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=15.0))
        clock.advance(5)
        with pytest.raises(NoKeyAvailable) as caught:
            pool.acquire("flash")
        assert caught.value.retry_after_s == pytest.approx(10.0)
        assert not caught.value.all_disabled
        assert caught.value.status == 429
        assert caught.value.headers["Retry-After"] == "10"


class TestKeyRejected:
    """Rejected keys are disabled, probed with backoff and re-enabled by a good probe."""

    def test_disabled_then_probed_back(
        self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]
    ) -> None:
        """API_KEY_INVALID disables the key; a successful probe re-enables it."""
        pool = pool_factory(2)
        k0, k1 = ids(pool)
        fail_key(pool, k0, INVALID)
        disabled = events[-1]
        assert (disabled.kind, disabled.key_id, disabled.reason) == (
            KeyEventKind.DISABLED,
            k0,
            "API_KEY_INVALID",
        )
        assert disabled.until is not None
        assert 54.0 <= disabled.until - T0 <= 60.0
        assert {use(pool, model, SUCCESS) for model in ("flash", "pro") for _ in range(3)} == {k1}
        assert pool.due_for_probe(clock.now) == []
        clock.now = disabled.until
        assert pool.due_for_probe(clock.now) == [(k0, secret(0))]
        pool.record_probe(k0, SUCCESS)
        assert events[-1] == KeyEvent(KeyEventKind.ENABLED, k0, None, "probe_ok")
        assert pool.due_for_probe(clock.now) == []
        assert {use(pool, "flash", SUCCESS) for _ in range(4)} == {k0, k1}

    def test_failed_probes_back_off(
        self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]
    ) -> None:
        """Each rejected probe pushes the next one further out, up to hours."""
        pool = pool_factory(1)
        use(pool, "flash", INVALID)
        gaps = []
        for _ in range(10):
            next_probe = pool.views()[0].next_probe_at
            assert next_probe is not None
            clock.now = next_probe
            pool.record_probe(ids(pool)[0], INVALID)
            new_next = pool.views()[0].next_probe_at
            assert new_next is not None
            gaps.append(new_next - clock.now)
        assert events[-1].kind is KeyEventKind.PROBE_FAILED
        assert 108 <= gaps[0] <= 120
        assert gaps == sorted(gaps[:8]) + gaps[8:]
        assert 0.9 * 6 * 3600 <= gaps[-1] <= 6 * 3600

    def test_admin_disable_not_probed(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A key an admin disabled is never probed back in."""
        pool = pool_factory(1)
        k0 = ids(pool)[0]
        pool.disable(k0, "maintenance")
        clock.advance(86_400)
        assert pool.due_for_probe(clock.now) == []
        pool.record_probe(k0, SUCCESS)
        assert pool.views()[0].status == "disabled"

    def test_all_disabled(self, pool_factory: PoolFactory) -> None:
        """With every key disabled the pool answers all_disabled (503)."""
        pool = pool_factory(2)
        for key_id in ids(pool):
            fail_key(pool, key_id, INVALID)
        with pytest.raises(NoKeyAvailable) as caught:
            pool.acquire("flash")
        assert caught.value.all_disabled
        assert caught.value.status == 503
        assert pool.earliest_recovery("flash") is None
        assert not pool.summary().usable


class TestBreaker:
    """Transient failures open the key's breaker; one trial decides."""

    def open_single_key(self, pool: KeyPool) -> None:
        for _ in range(3):
            use(pool, "flash", HTTP_500)

    def test_opens_after_threshold(self, pool_factory: PoolFactory, events: list[KeyEvent]) -> None:
        """Three transient failures open the breaker for every model."""
        pool = pool_factory(1)
        self.open_single_key(pool)
        assert events[-1].kind is KeyEventKind.OPENED
        assert events[-1].until == T0 + 2.0
        assert pool.views()[0].status == "open"
        for model in ("flash", "pro"):
            with pytest.raises(NoKeyAvailable) as caught:
                pool.acquire(model)
            assert caught.value.retry_after_s == pytest.approx(2.0)

    def test_single_trial_under_concurrent_acquires(
        self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]
    ) -> None:
        """After the open period, one acquire gets the trial; the others do not get that key."""
        pool = pool_factory(1)
        self.open_single_key(pool)
        clock.advance(2.0)
        trial = pool.acquire("flash")
        assert trial.is_trial
        assert events[-1] == KeyEvent(KeyEventKind.HALF_OPEN, trial.key_id, "flash", "trial")
        for model in ("flash", "flash", "pro"):
            with pytest.raises(NoKeyAvailable):
                pool.acquire(model)
        pool.release(trial, SUCCESS, latency_s=0.2)
        assert [event.kind for event in events[-2:]] == [KeyEventKind.HALF_OPEN, KeyEventKind.CLOSED]
        assert not pool.acquire("flash").is_trial

    def test_trial_failure_reopens_longer(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A failed trial reopens the breaker one level up."""
        pool = pool_factory(1)
        self.open_single_key(pool)
        clock.advance(2.0)
        pool.release(pool.acquire("flash"), HTTP_500, latency_s=0.1)
        view = pool.views()[0]
        assert (view.status, view.breaker_level) == ("open", 1)
        assert view.open_until is not None
        assert 2.0 <= view.open_until - clock.now <= 4.0

    def test_cancelled_trial_frees_the_slot(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """An abandoned trial is no verdict: the next acquire gets a new trial."""
        pool = pool_factory(1)
        self.open_single_key(pool)
        clock.advance(2.0)
        pool.cancel(pool.acquire("flash"))
        lease = pool.acquire("flash")
        assert lease.is_trial
        assert pool.views()[0].breaker_level == 0

    def test_stale_failure_does_not_decide(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A failure from a request lent before the breaker opened does not fail the trial."""
        pool = pool_factory(1)
        old = pool.acquire("flash")
        self.open_single_key(pool)
        clock.advance(2.0)
        trial = pool.acquire("flash")
        pool.release(old, HTTP_500, latency_s=1.0)
        assert pool.views()[0].status == "half_open"
        pool.release(trial, SUCCESS, latency_s=0.1)
        assert pool.views()[0].status == "active"

    def test_503_counts_toward_the_breaker(self, pool_factory: PoolFactory) -> None:
        """503s are transient failures: threshold of them open the key's breaker."""
        pool = pool_factory(1)
        for _ in range(3):
            use(pool, "flash", HTTP_503)
        view = pool.views()[0]
        assert view.status == "open"
        assert view.health < 1.0

    def test_client_error_resets_failures(self, pool_factory: PoolFactory) -> None:
        """A client error is an upstream answer: the consecutive failure count restarts."""
        pool = pool_factory(1)
        for outcome in (HTTP_500, HTTP_500, BAD_REQUEST, HTTP_500, HTTP_500):
            use(pool, "flash", outcome)
        assert pool.views()[0].status == "active"


class TestHealth:
    """Low-health keys are skipped while healthier keys can serve."""

    def test_low_health_skipped_then_forgiven(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A key under min_health gets no requests while others serve, and returns as it recovers."""
        pool = pool_factory(2, failure_threshold=100)
        k0, k1 = ids(pool)
        for _ in range(6):
            fail_key(pool, k0, HTTP_500)
        assert pool.views()[0].health < 0.3
        assert {use(pool, "flash", SUCCESS) for _ in range(6)} == {k1}
        clock.advance(3600)
        assert {use(pool, "flash", SUCCESS) for _ in range(6)} == {k0, k1}

    def test_low_health_used_when_alone(self, pool_factory: PoolFactory) -> None:
        """The only key serves even with low health."""
        pool = pool_factory(1, failure_threshold=100)
        for _ in range(8):
            use(pool, "flash", HTTP_500)
        assert pool.views()[0].health < 0.3
        assert pool.acquire("flash").key_id == ids(pool)[0]


class TestProactiveLimits:
    """Configured rpm/rpd/tpm keep keys from collecting 429s."""

    def test_rpm_per_key(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A key at its rpm is skipped until its window frees; retry_after says when."""
        specs = [KeySpec(secret(0), limits=ModelLimits(default=RateLimits(rpm=2))), KeySpec(secret(1))]
        pool = pool_factory(specs, strategy=Strategy.ROUND_ROBIN)
        k0, k1 = ids(pool)
        assert [use(pool, "flash", SUCCESS) for _ in range(6)] == [k0, k1, k0, k1, k1, k1]
        clock.advance(60)
        assert {use(pool, "flash", SUCCESS) for _ in range(2)} == {k0, k1}

    def test_pool_default_per_model(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A pool-wide per-model rpd applies to that model only."""
        pool = pool_factory(1, default_limits=ModelLimits(models={"pro": RateLimits(rpd=2)}))
        use(pool, "pro", SUCCESS)
        use(pool, "pro", SUCCESS)
        with pytest.raises(NoKeyAvailable) as caught:
            pool.acquire("pro")
        assert caught.value.retry_after_s == pytest.approx(next_pacific_midnight(T0) - T0)
        assert use(pool, "flash", SUCCESS) == ids(pool)[0]

    def test_tpm_counts_released_tokens(self, pool_factory: PoolFactory) -> None:
        """Tokens reported on release count toward tpm."""
        pool = pool_factory(1, default_limits=ModelLimits(default=RateLimits(tpm=1000)))
        lease = pool.acquire("flash")
        pool.release(lease, SUCCESS, latency_s=0.1, tokens=1200)
        with pytest.raises(NoKeyAvailable):
            pool.acquire("flash")
        usage = pool.views()[0].usage[0]
        assert (usage.model, usage.tokens_last_minute, usage.tpm) == ("flash", 1200, 1000)
