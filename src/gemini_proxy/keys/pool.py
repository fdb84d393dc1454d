"""The key pool: picks a key per request and learns from every outcome.

A thin, synchronous orchestration ring around the pure core (classifier outcomes,
breaker, backoff, health, limits, scheduler). No method awaits or does I/O, so the
event loop can call them directly; time and randomness come from the ``clock`` and
``rng`` given to the constructor, and every state change is reported as a ``KeyEvent``.

The request cycle: ``acquire(model)`` returns a ``Lease``; the caller makes the upstream
call, classifies it, and hands the outcome back with ``release`` (or ``cancel`` if the
request was abandoned). What an outcome does:

- success: breaker closed, health up (with the latency), the 429 streak reset;
- client error: the key answered, so a breaker trial counts as passed; nothing else;
- rate limited: the (key, model) pair cools for the stated delay, until the next Pacific
  midnight for a daily quota or "limit: 0", or for an exponential backoff when no delay
  was stated; a key tagged with a ``project`` cools every key of that project for that
  model (they share one quota). Other models are untouched;
- key rejected: the key is disabled and re-tested on a probe schedule (see ``prober``);
- transient: counts toward the breaker and health, unless model-wide (a 503).

Results of requests that started before the breaker opened are not fed to it, so only
the trial decides a half-open breaker.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from itertools import chain

from gemini_proxy.errors import NoKeyAvailable, NotFound, ProxyError
from gemini_proxy.keys.breaker import BreakerPhase, BreakerState
from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.health import HealthState, update_health
from gemini_proxy.keys.limits import ModelLimits
from gemini_proxy.keys.model import KeySpec, key_id
from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.registry import KeyRegistry
from gemini_proxy.keys.scheduler import Gate, Scheduler
from gemini_proxy.keys.snapshot import (
    export_added_key,
    export_cooldowns,
    export_key_state,
    export_usage,
    restore_cooldown,
    restore_key_state,
)
from gemini_proxy.keys.state import Cooldown, KeyState
from gemini_proxy.keys.views import KeyStatus, KeyView, PoolSummary, build_view, key_status, summarize
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    SnapshotDelta,
    UsageRecord,
)

# ``listener(key_id, model, at, requests, tokens)``: a usage window counted something.
UsageListener = Callable[[str, str, float, int, int], None]

# Probe outcomes that prove the upstream accepted the key.
_KEY_ACCEPTED = frozenset({OutcomeKind.SUCCESS, OutcomeKind.RATE_LIMITED, OutcomeKind.CLIENT_ERROR})


# Outcomes after which a key's state differs only in its counters and health.
_ANSWERED = frozenset({OutcomeKind.SUCCESS, OutcomeKind.CLIENT_ERROR})


class UnknownKey(NotFound):
    """No key with this id is in the pool (404)."""

    code = "key_not_found"


class DuplicateKey(ProxyError):
    """The key is already in the pool (409)."""

    status = 409
    code = "key_exists"


@dataclass(slots=True, eq=False)
class Lease:
    """The right to make one upstream call with one key for one model.

    ``secret`` is the raw key to send upstream; it is left out of ``repr``. ``is_trial``
    says this call is the single trial of a half-open breaker. Treat it as read-only (it
    is not frozen only because a frozen dataclass costs more to build, once per request).
    """

    key_id: str
    secret: str = field(repr=False)
    model: str
    is_trial: bool
    serial: int


class KeyPool:
    """A pool of Gemini API keys with cooldowns, breakers, health, limits and probing."""

    def __init__(
        self,
        specs: Iterable[KeySpec],
        policy: PoolPolicy | None = None,
        *,
        clock: Callable[[], float],
        rng: random.Random,
        on_event: Callable[[KeyEvent], None] | None = None,
    ) -> None:
        self._policy = policy or PoolPolicy()
        self._clock = clock
        self._rng = rng
        self._on_event = on_event
        self._on_usage: UsageListener | None = None
        self._days = PacificDays()
        self._keys = KeyRegistry(self._policy, self._days)
        self._leases: dict[int, Lease] = {}
        self._lease_serial = 0
        self._version = 0
        self._flushed_version = 0
        # Incremental export: records of unchanged keys are reused (same objects), so a
        # flush of a large pool costs in proportion to what changed since the last one.
        self._dirty_keys: set[str] = set()
        self._stats_dirty_keys: set[str] = set()
        self._all_dirty = True
        self._unflushed_keys: set[str] = set()  # re-exported since the last incremental export
        self._unflushed_all = True
        self._exported_states: dict[str, KeyStateRecord] = {}
        self._exported_cooldowns: dict[str, list[CooldownRecord]] = {}
        self._exported_usage: dict[str, list[UsageRecord]] = {}
        self._exported_added: tuple[AddedKeyRecord, ...] = ()
        self._scheduler = Scheduler(self._policy.strategy, self._keys.gate, self._keys.weight)
        for spec in specs:
            if spec.key_id not in self._keys:
                self._insert(spec, added_at=None)

    # -- the request cycle -----------------------------------------------------------

    def acquire(self, model: str, *, exclude: Collection[str] = (), now: float | None = None) -> Lease:
        """A lease on the best key for ``model`` now, never one of ``exclude`` (ids already tried).

        ``now``: the caller's fresh reading of the pool's clock, if it has one. Raises
        ``NoKeyAvailable`` with ``retry_after_s`` set to the earliest recovery (seconds
        from now) and ``all_disabled`` when every key of the pool is disabled.
        """
        if now is None:
            now = self._clock()
        chosen = self._scheduler.pick(model, now, exclude)
        if chosen is None:
            recovery = self._scheduler.earliest_recovery(model, now, exclude)
            raise NoKeyAvailable(
                model,
                retry_after_s=None if recovery is None else max(0.0, recovery - now),
                all_disabled=self._keys.all_disabled(),
            )
        state = self._keys[chosen]
        is_trial = state.breaker.phase is not BreakerPhase.CLOSED
        if is_trial:
            state.breaker = state.breaker.begin_trial(now)
            self._emit(KeyEventKind.HALF_OPEN, state, model, "trial")
        window = self._keys.usage(state, model) if state.limited else None
        if window is not None:
            window.record(now)
            if self._on_usage is not None:
                self._on_usage(chosen, model, now, 1, 0)
        state.in_flight += 1
        serial = self._lease_serial = self._lease_serial + 1
        lease = self._leases[serial] = Lease(chosen, state.spec.secret, model, is_trial, serial)
        if window is None and not is_trial:  # only counters changed (``_changed``, inlined)
            self._version += 1
            self._stats_dirty_keys.add(chosen)
        else:
            self._changed(state)
        return lease

    def release(
        self, lease: Lease, outcome: Outcome, *, latency_s: float, tokens: int = 0, now: float | None = None
    ) -> None:
        """Apply a finished call's outcome (and its input tokens) to the lease's key.

        A lease is released once; later calls with it, or leases of removed keys, are ignored.
        ``now``: as for ``acquire``.
        """
        if self._leases.pop(lease.serial, None) is None:  # ``_end_lease``, inlined
            return
        state = self._keys.get(lease.key_id)
        if state is None:
            return
        state.in_flight -= 1
        if now is None:
            now = self._clock()
        state.count(outcome, now)
        usage_changed = False
        if tokens > 0 and state.limited:
            window = self._keys.usage(state, lease.model)
            if window is not None:
                usage_changed = True
                window.record(now, tokens, request=False)
                if self._on_usage is not None:
                    self._on_usage(lease.key_id, lease.model, now, 0, tokens)
        kind = outcome.kind
        if kind is OutcomeKind.SUCCESS:
            breaker = state.breaker
            if breaker.phase is not BreakerPhase.CLOSED or breaker.consecutive_failures or breaker.level:
                self._breaker_answered(state, lease)  # (a clean closed breaker stays as it is)
            state.health = update_health(
                state.health, self._policy.health, now, success=True, latency_s=latency_s
            )
            if state.rate_limit_streak:
                state.rate_limit_streak.pop(lease.model, None)
        elif kind is OutcomeKind.CLIENT_ERROR:
            self._breaker_answered(state, lease)
        elif kind is OutcomeKind.RATE_LIMITED:
            self._breaker_answered(state, lease)
            self._rate_limited(state, lease.model, outcome, now)
        elif kind is OutcomeKind.KEY_REJECTED:
            self._penalise_health(state, now)
            self._disable(state, outcome.reason, now, probe=True)
        else:
            self._penalise_health(state, now)
            self._breaker_failed(state, lease, outcome.reason, now)
        # A plain answer changes only counters and health (and state changes it causes,
        # such as a breaker closing, mark the key through their event).
        if not usage_changed and kind in _ANSWERED:  # ``_changed(state, stats_only=True)``, inlined
            self._version += 1
            self._stats_dirty_keys.add(state.key_id)
        else:
            self._changed(state)
        self._scheduler.wake(state.key_id)

    def cancel(self, lease: Lease) -> None:
        """The request was abandoned (client gone): free the lease, no judgement of the key."""
        state = self._end_lease(lease)
        if state is None:
            return
        self._breaker_cancel_trial(state, lease)
        self._scheduler.wake(state.key_id)

    def earliest_recovery(self, model: str) -> float | None:
        """When some key can next serve ``model``: now if one can, ``None`` if none will by itself."""
        return self._scheduler.earliest_recovery(model, self._clock())

    # -- admin -----------------------------------------------------------------------

    def disable(self, key_id: str, reason: str = "admin") -> None:
        """Take a key out of rotation until an admin enables it (it is not probed)."""
        state = self._get(key_id)
        now = self._clock()
        if state.disabled:
            state.disabled_reason = reason
            state.next_probe_at = None
            self._emit(KeyEventKind.DISABLED, state, None, reason)
            self._changed()
            return
        self._disable(state, reason, now, probe=False)

    def enable(self, key_id: str) -> None:
        """Put a disabled key back into rotation."""
        self._enable(self._get(key_id), "admin")

    def reset(self, key_id: str) -> None:
        """Clear a key's disable, cooldowns, 429 streaks, breaker and health (not its counters).

        Other keys of its project keep their cooldowns.
        """
        state = self._get(key_id)
        self._clear(state)
        self._emit(KeyEventKind.RESET, state, None, "admin")
        self._changed()
        self._scheduler.wake(state.key_id)

    def add(self, spec: KeySpec) -> str:
        """Add a key at run time (it is persisted with the snapshot); returns its id."""
        if spec.key_id in self._keys:
            raise DuplicateKey(f"key {spec.key_id} is already in the pool")
        state = self._insert(spec, added_at=self._clock())
        self._emit(KeyEventKind.ADDED, state, None, "admin")
        self._changed()
        return state.key_id

    def remove(self, key_id: str) -> None:
        """Remove a key (a configured key comes back at the next start if still configured)."""
        state = self._delete(self._get(key_id).key_id)
        self._emit(KeyEventKind.REMOVED, state, None, "admin")
        self._changed()

    def views(self) -> list[KeyView]:
        """A read-only view of every key, in pool order."""
        now = self._clock()
        return [build_view(state, now, self._policy.health) for state in self._keys]

    def view(self, key_id: str) -> KeyView:
        """The view of one key."""
        return build_view(self._get(key_id), self._clock(), self._policy.health)

    def summary(self) -> PoolSummary:
        """Counts of keys by status."""
        return summarize(self._keys, self._clock())

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    # -- probing ---------------------------------------------------------------------

    def due_for_probe(self, now: float) -> list[tuple[str, str]]:
        """``(key_id, secret)`` of the disabled keys whose re-test is due at ``now``."""
        due: list[tuple[str, str]] = []
        for disabled_id in self._keys.disabled:
            state = self._keys[disabled_id]
            if state.next_probe_at is not None and state.next_probe_at <= now:
                due.append((disabled_id, state.spec.secret))
        return sorted(due)

    def record_probe(self, key_id: str, outcome: Outcome) -> None:
        """A probe's result. A key the upstream accepted is enabled: success, a rate limit or a
        client error (the request, not the key, was refused). A rejected key waits longer for
        its next probe; a transient failure retries at the same distance."""
        state = self._keys.get(key_id)
        if state is None or not state.disabled or state.next_probe_at is None:
            return
        now = self._clock()
        if outcome.kind in _KEY_ACCEPTED:
            self._enable(state, "probe_ok")
            return
        if outcome.kind is OutcomeKind.KEY_REJECTED:
            state.probe_failures += 1
        state.next_probe_at = now + self._policy.probe.delay(state.probe_failures, self._rng)
        state.last_error = outcome.reason
        state.last_error_at = now
        self._emit(KeyEventKind.PROBE_FAILED, state, None, outcome.reason, state.next_probe_at)
        self._changed()

    # -- persistence -----------------------------------------------------------------

    @property
    def version(self) -> int:
        """Grows with every state change; pass it to ``mark_flushed`` after saving."""
        return self._version

    @property
    def dirty(self) -> bool:
        """Whether something changed since the last ``mark_flushed``."""
        return self._version != self._flushed_version

    def mark_flushed(self, version: int) -> None:
        """The state as of ``version`` (read before ``export_snapshot``) is saved."""
        self._flushed_version = max(self._flushed_version, version)

    def export_snapshot(self, *, incremental: bool = False, include_stats: bool = True) -> PoolSnapshot:
        """Everything a store should persist, as of now.

        Only keys that changed since the previous export are exported again; the others'
        records are the same objects as last time. With ``incremental`` (the flusher's
        call), ``delta`` holds the records of the keys that changed since the previous
        incremental export (``None`` when any may have, e.g. after a restore or a removal).
        Without ``include_stats``, keys whose only change is counters and health keep their
        previous records (and stay due for a later export).
        """
        now = self._clock()
        health = self._policy.health
        full = self._all_dirty
        if full:
            # Anything may have changed (restore, removal, reconfiguration): export all.
            self._exported_states, self._exported_cooldowns, self._exported_usage = {}, {}, {}
            refresh: Iterable[KeyState] = list(self._keys)
            self._exported_added = tuple(
                record for state in self._keys if (record := export_added_key(state)) is not None
            )
        else:
            due = self._dirty_keys
            if include_stats:
                due = due | self._stats_dirty_keys
            refresh = [state for key in due if (state := self._keys.get(key)) is not None]
        for state in refresh:
            key = state.key_id
            self._exported_states[key] = export_key_state(state, now, health)
            # Only keys that have cooldowns or usage windows get an entry, so building the
            # snapshot's tuples walks those, not the whole pool.
            cooldowns = export_cooldowns(state, now) if state.cooldowns else []
            if cooldowns:
                self._exported_cooldowns[key] = cooldowns
            else:
                self._exported_cooldowns.pop(key, None)
            usage = export_usage(state, now) if state.usage else []
            if usage:
                self._exported_usage[key] = usage
            else:
                self._exported_usage.pop(key, None)
            self._unflushed_keys.add(key)
        if full or include_stats:
            self._stats_dirty_keys = set()
        else:
            self._stats_dirty_keys -= self._dirty_keys
        self._dirty_keys = set()
        self._all_dirty = False
        self._unflushed_all = self._unflushed_all or full
        delta: SnapshotDelta | None = None
        if incremental:
            if not self._unflushed_all:
                ids = frozenset(self._unflushed_keys)
                delta = SnapshotDelta(
                    ids,
                    keys=tuple(self._exported_states[key] for key in ids if key in self._exported_states),
                    cooldowns=tuple(
                        chain.from_iterable(self._exported_cooldowns.get(key, ()) for key in ids)
                    ),
                    usage=tuple(chain.from_iterable(self._exported_usage.get(key, ()) for key in ids)),
                )
            self._unflushed_keys = set()
            self._unflushed_all = False
        return PoolSnapshot(
            keys=tuple(self._exported_states.values()),
            cooldowns=tuple(chain.from_iterable(self._exported_cooldowns.values())),
            usage=tuple(chain.from_iterable(self._exported_usage.values())),
            added_keys=self._exported_added,
            delta=delta,
        )

    def restore(self, snapshot: PoolSnapshot) -> None:
        """Merge a saved snapshot into the configured pool.

        Keys added at run time come back; state for ids not in the pool is dropped;
        expired cooldowns are dropped; usage counts only for the current Pacific day (and
        a minute window only if still running).
        """
        now = self._clock()
        for added in snapshot.added_keys:
            self._restore_added(added)
        for record in snapshot.keys:
            state = self._keys.get(record.key_id)
            if state is not None:
                restore_key_state(state, record, self._keys.breaker_policy, now)
        for cooldown in snapshot.cooldowns:
            state = self._keys.get(cooldown.key_id)
            if state is not None:
                restore_cooldown(state, cooldown, now)
        for usage in snapshot.usage:
            state = self._keys.get(usage.key_id)
            window = None if state is None else self._keys.usage(state, usage.model)
            if window is not None:
                window.restore(usage, now)
        self._keys.disabled = {state.key_id for state in self._keys if state.disabled}
        self._scheduler.clear()
        self._changed()

    # -- internals -------------------------------------------------------------------

    def _insert(self, spec: KeySpec, *, added_at: float | None) -> KeyState:
        state = self._keys.insert(spec, added_at=added_at)
        self._scheduler.add(state.key_id)
        return state

    def _restore_added(self, record: AddedKeyRecord) -> None:
        try:
            spec = KeySpec(
                secret=record.secret,
                name=record.name,
                project=record.project,
                weight=record.weight,
                limits=ModelLimits.from_dict(record.limits),
            )
        except (ValueError, TypeError, AttributeError):
            return  # a damaged record must not stop the start
        if key_id(spec.secret) not in self._keys:
            self._insert(spec, added_at=record.added_at)

    def _clear(self, state: KeyState) -> None:
        """Clear a key's disable, cooldowns, 429 streaks, breaker and health."""
        self._keys.disabled.discard(state.key_id)
        state.disabled = False
        state.disabled_reason = state.disabled_at = state.next_probe_at = None
        state.probe_failures = 0
        state.cooldowns.clear()
        state.rate_limit_streak.clear()
        state.breaker = self._keys.fresh_breaker()
        state.health = HealthState()

    def _delete(self, key_id: str) -> KeyState:
        """Take a key out of the registry, its leases and the scheduler."""
        state = self._keys.delete(key_id)
        for serial in [serial for serial, lease in self._leases.items() if lease.key_id == key_id]:
            del self._leases[serial]
        self._scheduler.remove(key_id)
        return state

    def _get(self, key_id: str) -> KeyState:
        state = self._keys.get(key_id)
        if state is None:
            raise UnknownKey(f"no key with id {key_id!r}")
        return state

    def _end_lease(self, lease: Lease) -> KeyState | None:
        if self._leases.pop(lease.serial, None) is None:
            return None
        state = self._keys.get(lease.key_id)
        if state is not None:
            state.in_flight -= 1
        return state

    def _rate_limited(self, state: KeyState, model: str, outcome: Outcome, now: float) -> None:
        already_cooling = state.cooling_until(model, now) is not None
        per_day = outcome.per_day or outcome.no_quota
        if per_day:
            until = self._days.end(now)
        elif outcome.retry_after_s is not None:
            until = now + min(outcome.retry_after_s, self._policy.max_retry_after_s)
        elif already_cooling:
            return  # a late 429 from a request sent before the pair started cooling
        else:
            streak = state.rate_limit_streak.get(model, 0)
            state.rate_limit_streak[model] = streak + 1
            until = now + self._policy.rate_limit_backoff.delay(streak, self._rng)
        if not already_cooling:
            self._penalise_health(state, now)
        for member in self._keys.project_members(state):
            self._cool(member, model, until, outcome.reason, per_day, now)

    def _cool(
        self, state: KeyState, model: str, until: float, reason: str, per_day: bool, now: float
    ) -> None:
        current = state.cooldowns.get(model)
        if until <= now or (current is not None and current.until >= until):
            return
        state.cooldowns[model] = Cooldown(until, reason, per_day)
        self._emit(KeyEventKind.COOLED, state, model, reason, until)

    def _disable(self, state: KeyState, reason: str, now: float, *, probe: bool) -> None:
        if state.disabled:
            return
        state.disabled = True
        state.disabled_reason = reason
        state.disabled_at = now
        state.probe_failures = 0
        state.next_probe_at = now + self._policy.probe.delay(0, self._rng) if probe else None
        state.breaker = self._keys.fresh_breaker()
        self._keys.disabled.add(state.key_id)
        self._emit(KeyEventKind.DISABLED, state, None, reason, state.next_probe_at)
        self._changed()

    def _enable(self, state: KeyState, reason: str) -> None:
        if not state.disabled:
            return
        state.disabled = False
        state.disabled_reason = state.disabled_at = state.next_probe_at = None
        state.probe_failures = 0
        self._keys.disabled.discard(state.key_id)
        self._emit(KeyEventKind.ENABLED, state, None, reason)
        self._changed()
        self._scheduler.wake(state.key_id)

    def _penalise_health(self, state: KeyState, now: float) -> None:
        state.health = update_health(state.health, self._policy.health, now, success=False)

    def _breaker_answered(self, state: KeyState, lease: Lease) -> None:
        """The upstream gave a definite answer: the key's connection works."""
        breaker = state.breaker
        if breaker.phase is BreakerPhase.CLOSED:
            state.breaker = breaker.on_success()
        elif lease.is_trial and breaker.phase is BreakerPhase.HALF_OPEN:
            state.breaker = breaker.on_success()
            self._emit(KeyEventKind.CLOSED, state, None, "trial_passed")

    def _breaker_failed(self, state: KeyState, lease: Lease, reason: str, now: float) -> None:
        breaker = state.breaker
        if breaker.phase is BreakerPhase.OPEN or (
            breaker.phase is BreakerPhase.HALF_OPEN and not lease.is_trial
        ):
            return  # started before the breaker opened: only the trial decides now
        state.breaker = breaker.on_failure(now, self._rng)
        if state.breaker.phase is BreakerPhase.OPEN:
            self._emit(KeyEventKind.OPENED, state, None, reason, state.breaker.open_until)

    def _breaker_cancel_trial(self, state: KeyState, lease: Lease) -> None:
        if lease.is_trial and state.breaker.trial_in_flight:
            state.breaker = state.breaker.cancel_trial()
            self._changed()

    def _emit(
        self, kind: KeyEventKind, state: KeyState, model: str | None, reason: str, until: float | None = None
    ) -> None:
        self._dirty_keys.add(state.key_id)
        if self._on_event is not None:
            self._on_event(KeyEvent(kind, state.key_id, model, reason, until))

    def _changed(self, state: KeyState | None = None, *, stats_only: bool = False) -> None:
        """Something changed: in one key's state (``state``), or anywhere (``None``).

        ``stats_only``: only the key's counters and health changed (every request does
        that); the flusher persists those less often than real state changes.
        """
        self._version += 1
        if state is None:
            self._all_dirty = True
        elif stats_only:
            self._stats_dirty_keys.add(state.key_id)
        else:
            self._dirty_keys.add(state.key_id)

    # -- observability and reconfiguration (metrics, admin API, config reload) -------

    def key_statuses(self) -> list[tuple[str, KeyStatus, float]]:
        """``(key_id, status, health)`` of every key now, in pool order (cheap: for metric scrapes)."""
        now = self._clock()
        health = self._policy.health
        return [
            (state.key_id, key_status(state, now), state.health.score(health, now)) for state in self._keys
        ]

    def cooling_counts(self) -> dict[str, int]:
        """How many keys are cooling now, by model."""
        now = self._clock()
        counts: dict[str, int] = {}
        for state in self._keys:
            if not state.cooldowns:
                continue
            for model in state.active_cooldowns(now):
                counts[model] = counts.get(model, 0) + 1
        return counts

    def availability(self, model: str) -> tuple[int, int]:
        """``(keys that can serve model now, keys cooling for it)``; a low-health key counts as able."""
        now = self._clock()
        available = cooling = 0
        for state in self._keys:
            gate, _ = self._keys.gate(state.key_id, model, now)
            if gate is Gate.READY or gate is Gate.FALLBACK:
                available += 1
            if state.cooling_until(model, now) is not None:
                cooling += 1
        return available, cooling

    def next_recovery(self) -> float | None:
        """The earliest time a key that is not disabled stops cooling (for some model) or its
        breaker opens for a trial; ``None`` when nothing is waiting to recover."""
        now = self._clock()
        earliest: float | None = None
        for state in self._keys:
            if state.disabled:
                continue
            times = [cooldown.until for cooldown in state.active_cooldowns(now).values()]
            if state.breaker.phase is BreakerPhase.OPEN and state.breaker.open_until is not None:
                times.append(state.breaker.open_until)
            for until in times:
                if until > now and (earliest is None or until < earliest):
                    earliest = until
        return earliest

    def probe_secret(self, key_id: str) -> str:
        """The raw key of ``key_id``, to send an on-demand probe upstream (admin, CLI)."""
        return self._get(key_id).spec.secret

    def record_admin_probe(self, key_id: str, outcome: Outcome) -> None:
        """The result of an on-demand probe (admin API).

        A disabled key waiting for its scheduled re-test takes it as that re-test
        (``record_probe``). Otherwise a failed probe is reported as ``PROBE_FAILED`` and kept
        as the key's last error, and a key the upstream rejects is disabled (and re-tested on
        the probe schedule). A key an admin disabled stays disabled whatever the result.
        """
        state = self._get(key_id)
        if state.disabled and state.next_probe_at is not None:
            self.record_probe(key_id, outcome)
            return
        if outcome.kind in (OutcomeKind.SUCCESS, OutcomeKind.RATE_LIMITED, OutcomeKind.CLIENT_ERROR):
            return
        now = self._clock()
        state.last_error = outcome.reason
        state.last_error_at = now
        self._emit(KeyEventKind.PROBE_FAILED, state, None, outcome.reason)
        if outcome.kind is OutcomeKind.KEY_REJECTED:
            self._disable(state, outcome.reason, now, probe=True)
        self._changed()

    def reconfigure(self, specs: Iterable[KeySpec]) -> tuple[list[str], list[str], list[str]]:
        """Make the configured keys ``specs``; returns the ids ``(added, removed, changed)``.

        New keys join fresh. Configured keys no longer listed leave (keys added through the
        admin API stay). A listed key whose name, project, weight or limits changed keeps its
        state (disable, breaker, health, cooldowns, counters, usage) under the new spec;
        unchanged keys are not touched at all.
        """
        wanted: dict[str, KeySpec] = {}
        for spec in specs:
            wanted.setdefault(spec.key_id, spec)
        removed = [
            state.key_id for state in self._keys if state.added_at is None and state.key_id not in wanted
        ]
        for gone in removed:
            self.remove(gone)
        added: list[str] = []
        changed: list[str] = []
        for wanted_id, spec in wanted.items():
            state = self._keys.get(wanted_id)
            if state is None:
                self._emit(KeyEventKind.ADDED, self._insert(spec, added_at=None), None, "config")
                added.append(wanted_id)
            elif state.spec != spec:
                self._respec(state, spec)
                changed.append(wanted_id)
        if added or changed:
            self._changed()
        return added, removed, changed

    def _respec(self, old: KeyState, spec: KeySpec) -> None:
        """Put ``spec`` under a key's live state (its id is unchanged: same secret)."""
        now = self._clock()
        self._keys.delete(old.key_id)
        new = self._keys.insert(spec, added_at=old.added_at)
        for name in (
            "breaker",
            "health",
            "disabled",
            "disabled_reason",
            "disabled_at",
            "next_probe_at",
            "probe_failures",
            "cooldowns",
            "rate_limit_streak",
            "requests",
            "failures",
            "outcome_counts",
            "last_error",
            "last_error_at",
            "in_flight",
            "updated_at",
        ):
            setattr(new, name, getattr(old, name))
        if new.disabled:
            self._keys.disabled.add(new.key_id)
        for model, window in old.usage.items():
            if window is None:
                continue
            records = window.export(old.key_id, model, now)
            replacement = self._keys.usage(new, model)
            if replacement is not None:
                for record in records:
                    replacement.restore(record, now)
        self._scheduler.wake(new.key_id)

    # -- shared state: several instances through Redis (see ``gemini_proxy.shared``) ----
    #
    # The ``apply_*`` methods take a change another proxy instance made. They emit no
    # ``KeyEvent``: the change is not this instance's own, so it is neither logged as one
    # nor published again. Each returns whether it changed anything.

    def set_usage_listener(self, listener: UsageListener | None) -> None:
        """Call ``listener(key_id, model, at, requests, tokens)`` whenever a usage window counts
        a pick or reported tokens (only pairs under a limit have a window)."""
        self._on_usage = listener

    def export_key(self, key_id: str) -> KeyStateRecord | None:
        """The persisted record of one key now; ``None`` if it is not in the pool."""
        state = self._keys.get(key_id)
        return None if state is None else export_key_state(state, self._clock(), self._policy.health)

    def export_cooldown(self, key_id: str, model: str) -> CooldownRecord | None:
        """The running cooldown of one (key, model) pair, if any."""
        state = self._keys.get(key_id)
        if state is None or state.cooling_until(model, self._clock()) is None:
            return None
        cooldown = state.cooldowns[model]
        return CooldownRecord(key_id, model, cooldown.until, cooldown.reason, cooldown.per_day)

    def export_added(self, key_id: str) -> AddedKeyRecord | None:
        """The record of a key added at run time; ``None`` for a configured or unknown key."""
        state = self._keys.get(key_id)
        return None if state is None else export_added_key(state)

    def apply_disable_state(self, record: KeyStateRecord) -> bool:
        """Take another instance's disable: the key's disabled flag, reason and probe schedule."""
        state = self._keys.get(record.key_id)
        if state is None or (not record.disabled and not state.disabled):
            return False
        if record.disabled:
            if not state.disabled:
                state.breaker = self._keys.fresh_breaker()
            state.disabled = True
            state.disabled_reason = record.disabled_reason
            state.disabled_at = record.disabled_at
            state.next_probe_at = record.next_probe_at
            state.probe_failures = max(0, record.probe_failures)
            self._keys.disabled.add(state.key_id)
        else:
            state.disabled = False
            state.disabled_reason = state.disabled_at = state.next_probe_at = None
            state.probe_failures = 0
            self._keys.disabled.discard(state.key_id)
        self._changed()
        self._scheduler.wake(state.key_id)
        return True

    def apply_breaker_state(self, record: KeyStateRecord) -> bool:
        """Take another instance's breaker opening (a later deadline wins) or closing."""
        state = self._keys.get(record.key_id)
        if state is None:
            return False
        current = state.breaker
        if record.breaker_state == BreakerPhase.OPEN and record.open_until is not None:
            if current.phase is BreakerPhase.OPEN and (current.open_until or 0.0) >= record.open_until:
                return False
            state.breaker = BreakerState(
                policy=self._keys.breaker_policy,
                phase=BreakerPhase.OPEN,
                level=max(0, record.breaker_level),
                consecutive_failures=max(0, record.consecutive_failures),
                open_until=record.open_until,
            )
        elif record.breaker_state == BreakerPhase.CLOSED and current.phase is not BreakerPhase.CLOSED:
            state.breaker = self._keys.fresh_breaker()
        else:
            return False
        self._changed()
        self._scheduler.wake(state.key_id)
        return True

    def apply_cooldown(self, record: CooldownRecord) -> bool:
        """Take another instance's cooldown of a (key, model) pair unless a longer one runs here."""
        state = self._keys.get(record.key_id)
        if state is None or not restore_cooldown(state, record, self._clock()):
            return False
        self._changed()
        return True

    def apply_reset(self, key_id: str) -> bool:
        """Take another instance's reset of a key (as ``reset``, without the event)."""
        state = self._keys.get(key_id)
        if state is None:
            return False
        self._clear(state)
        self._changed()
        self._scheduler.wake(key_id)
        return True

    def apply_added(self, record: AddedKeyRecord) -> bool:
        """Take a key another instance added (as ``add``, without the event)."""
        if record.key_id in self._keys:
            return False
        self._restore_added(record)
        if record.key_id not in self._keys:
            return False
        self._changed()
        return True

    def apply_removed(self, key_id: str) -> bool:
        """Take another instance's removal of a key (as ``remove``, without the event)."""
        if key_id not in self._keys:
            return False
        self._delete(key_id)
        self._changed()
        return True

    def apply_usage(self, key_id: str, model: str, requests: int, tokens: int) -> None:
        """Count requests and tokens another instance sent with this key, as made now."""
        state = self._keys.get(key_id)
        window = None if state is None else self._keys.usage(state, model)
        if window is None:
            return
        now = self._clock()
        for _ in range(max(0, requests)):
            window.record(now)
        if tokens > 0:
            window.record(now, tokens, request=False)
        self._changed()

    def raise_day_usage(self, record: UsageRecord) -> None:
        """Raise one pair's day counters to at least a shared total (counters never go down)."""
        state = self._keys.get(record.key_id)
        window = None if state is None else self._keys.usage(state, record.model)
        if window is None or record.window != "day":
            return
        now = self._clock()
        requests = max(0, record.requests - window.requests_today(now))
        tokens = max(0, record.tokens - window.tokens_today(now))
        if requests or tokens:
            window.restore(
                UsageRecord(record.key_id, record.model, "day", record.window_start, requests, tokens), now
            )
            self._changed()
