"""KeyPool's admin operations, views, summary, events and the dirty flag."""

from __future__ import annotations

import dataclasses

import pytest

from gemini_proxy.errors import NoKeyAvailable
from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.model import KeySpec, key_id
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.pool import DuplicateKey, UnknownKey
from gemini_proxy.keys.scheduler import Strategy

from .conftest import T0, FakeClock, PoolFactory, secret

PER_MINUTE = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=30.0)
HTTP_500 = Outcome(OutcomeKind.TRANSIENT, "http_500")


class TestAdmin:
    """disable, enable, reset, add, remove."""

    def test_disable_enable(self, pool_factory: PoolFactory, events: list[KeyEvent]) -> None:
        """An admin can take a key out and put it back."""
        pool = pool_factory(1)
        k0 = key_id(secret(0))
        pool.disable(k0, "rotating")
        assert (pool.views()[0].status, pool.views()[0].disabled_reason) == ("disabled", "rotating")
        with pytest.raises(NoKeyAvailable):
            pool.acquire("flash")
        pool.enable(k0)
        assert pool.acquire("flash").key_id == k0
        assert [event.kind for event in events] == [KeyEventKind.DISABLED, KeyEventKind.ENABLED]

    def test_reset_clears_state(self, pool_factory: PoolFactory, events: list[KeyEvent]) -> None:
        """reset clears cooldowns, breaker and health but keeps the counters."""
        pool = pool_factory(1)
        k0 = key_id(secret(0))
        for outcome in (PER_MINUTE,):
            pool.release(pool.acquire("flash"), outcome, latency_s=0.1)
        for _ in range(3):
            pool.release(pool.acquire("pro"), HTTP_500, latency_s=0.1)
        assert pool.views()[0].status == "open"
        pool.reset(k0)
        view = pool.views()[0]
        assert (view.status, view.health, view.breaker_level, view.cooldowns) == ("active", 1.0, 0, ())
        assert view.requests == 4
        assert events[-1] == KeyEvent(KeyEventKind.RESET, k0, None, "admin")
        assert pool.acquire("flash").key_id == k0

    def test_add_and_remove(self, pool_factory: PoolFactory, events: list[KeyEvent]) -> None:
        """Keys added at run time serve at once; removed keys are never lent again."""
        pool = pool_factory(1)
        added = pool.add(KeySpec(secret(9), name="late"))
        assert added == key_id(secret(9))
        assert {pool.acquire("flash").key_id for _ in range(2)} == {key_id(secret(0)), added}
        pool.remove(key_id(secret(0)))
        assert {pool.acquire("flash").key_id for _ in range(3)} == {added}
        assert [event.kind for event in events] == [KeyEventKind.ADDED, KeyEventKind.REMOVED]

    def test_release_after_remove(self, pool_factory: PoolFactory) -> None:
        """A lease of a removed key can still be released, harmlessly."""
        pool = pool_factory(2)
        lease = pool.acquire("flash")
        pool.remove(lease.key_id)
        pool.release(lease, HTTP_500, latency_s=0.1)
        pool.cancel(lease)
        assert len(pool) == 1

    @pytest.mark.parametrize("operation", ["disable", "enable", "reset", "remove", "view"])
    def test_unknown_key(self, pool_factory: PoolFactory, operation: str) -> None:
        """Admin operations on an unknown id raise UnknownKey (404)."""
        pool = pool_factory(1)
        with pytest.raises(UnknownKey) as caught:
            getattr(pool, operation)("nope")
        assert caught.value.status == 404

    def test_duplicate_add(self, pool_factory: PoolFactory) -> None:
        """Adding a key that is already in the pool raises DuplicateKey (409)."""
        pool = pool_factory(1)
        with pytest.raises(DuplicateKey) as caught:
            pool.add(KeySpec(secret(0)))
        assert caught.value.status == 409


class TestViews:
    """Read-only views never show a raw key."""

    def test_view_fields(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """A view carries id, mask, state, health, cooldowns and counters."""
        pool = pool_factory([KeySpec(secret(0), name="main", project="p", weight=2.0)])
        pool.release(pool.acquire("flash"), SUCCESS, latency_s=0.1)
        pool.release(pool.acquire("pro"), PER_MINUTE, latency_s=0.1)
        view = pool.view(key_id(secret(0)))
        assert (view.name, view.project, view.weight, view.masked) == ("main", "p", 2.0, "AIza...0000")
        assert view.status == "cooling"
        assert [(c.model, c.until, c.reason) for c in view.cooldowns] == [
            ("pro", T0 + 30, "per_minute_quota")
        ]
        assert (view.requests, view.failures, view.last_error, view.last_error_at) == (
            2,
            1,
            "per_minute_quota",
            T0,
        )
        assert view.outcomes["success"] == 1
        assert view.outcomes["rate_limited"] == 1

    def test_no_secret_anywhere(self, pool_factory: PoolFactory) -> None:
        """Neither views nor the summary contain a raw key."""
        pool = pool_factory(3)
        pool.acquire("flash")
        text = repr(pool.views()) + repr(pool.summary()) + repr([dataclasses.asdict(v) for v in pool.views()])
        assert all(secret(i) not in text for i in range(3))

    def test_summary(self, pool_factory: PoolFactory, clock: FakeClock) -> None:
        """The summary counts keys by status and in-flight leases."""
        pool = pool_factory(4)
        k0, k1, k2, _ = (view.key_id for view in pool.views())
        pool.disable(k0)
        for _ in range(3):
            lease = pool.acquire("flash", exclude=[k2])
            pool.release(lease, HTTP_500 if lease.key_id == k1 else SUCCESS, latency_s=0.1)
        pool.release(pool.acquire("flash", exclude=[k1]), PER_MINUTE, latency_s=0.1)
        pool.acquire("flash")
        summary = pool.summary()
        assert (summary.total, summary.disabled, summary.in_flight) == (4, 1, 1)
        assert summary.usable
        assert summary.active + summary.cooling + summary.open + summary.half_open == 3


class TestEventsAndDirty:
    """Each state change is one event and bumps the version."""

    def test_events_once_per_change(
        self, pool_factory: PoolFactory, clock: FakeClock, events: list[KeyEvent]
    ) -> None:
        """Repeated failures while open emit nothing more; one event per transition."""
        pool = pool_factory(1)
        k0 = key_id(secret(0))
        leases = [pool.acquire("flash") for _ in range(5)]
        for lease in leases:
            pool.release(lease, HTTP_500, latency_s=0.1)
        clock.advance(2)
        trial = pool.acquire("flash")
        pool.release(trial, SUCCESS, latency_s=0.1)
        assert [(e.kind, e.key_id) for e in events] == [
            (KeyEventKind.OPENED, k0),
            (KeyEventKind.HALF_OPEN, k0),
            (KeyEventKind.CLOSED, k0),
        ]

    def test_dirty_flag(self, pool_factory: PoolFactory) -> None:
        """The pool is dirty after a change until the flusher marks that version saved."""
        pool = pool_factory(1)
        assert not pool.dirty
        pool.release(pool.acquire("flash"), SUCCESS, latency_s=0.1)
        assert pool.dirty
        version = pool.version
        pool.export_snapshot()
        pool.mark_flushed(version)
        assert not pool.dirty
        pool.disable(key_id(secret(0)))
        assert pool.dirty
        assert pool.version > version


class TestPolicy:
    """The pool policy accepts settings strings and refuses nonsense."""

    def test_strategy_from_string(self) -> None:
        """A strategy named by its settings string becomes the enum."""
        assert PoolPolicy(strategy="least_used").strategy is Strategy.LEAST_USED  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "kwargs",
        [{"strategy": "fastest"}, {"min_health": 1.0}, {"failure_threshold": 0}, {"backoff_base_s": -1.0}],
    )
    def test_rejects(self, kwargs: dict[str, object]) -> None:
        """Unknown strategies and invalid numbers raise ValueError."""
        with pytest.raises(ValueError):  # noqa: PT011 - several validators, several messages
            PoolPolicy(**kwargs)  # type: ignore[arg-type]
