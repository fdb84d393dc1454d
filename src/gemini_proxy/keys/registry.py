"""The pool's keys and whether each can serve a model now (the scheduler's gate).

``KeyRegistry`` owns the ``KeyState`` of every key, the project groups, the set of
disabled keys and the usage windows of configured limits. Its ``gate`` is what the
scheduler asks about a (key, model) pair; it answers in O(1):

- PARKED: the key is disabled;
- BLOCKED until the latest of: the breaker's open period (or a trial in flight), the
  pair's cooldown, the moment a proactive limit frees;
- FALLBACK until the health score reaches ``min_health`` (a low-health key serves
  only when no healthier key can);
- READY otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator

from gemini_proxy.keys.breaker import BreakerPhase, BreakerPolicy, BreakerState
from gemini_proxy.keys.limits import UsageWindow, resolve_limits
from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.scheduler import Gate
from gemini_proxy.keys.state import KeyState

_READY: tuple[Gate, float] = (Gate.READY, 0.0)
_PARKED: tuple[Gate, float] = (Gate.PARKED, 0.0)


class KeyRegistry:
    """Key states by id, in insertion order, with their availability for each model."""

    def __init__(self, policy: PoolPolicy, days: PacificDays) -> None:
        self._policy = policy
        self._breaker_policy = policy.breaker_policy()
        self._days = days
        self._states: dict[str, KeyState] = {}
        self._projects: dict[str, list[str]] = {}
        self.disabled: set[str] = set()

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._states

    def __iter__(self) -> Iterator[KeyState]:
        return iter(self._states.values())

    def get(self, key_id: str) -> KeyState | None:
        """The key's state, if the key is in the pool."""
        return self._states.get(key_id)

    def __getitem__(self, key_id: str) -> KeyState:
        return self._states[key_id]

    def insert(self, spec: KeySpec, *, added_at: float | None) -> KeyState:
        """Add a fresh key state (the caller checks for duplicates)."""
        state = KeyState(spec, self.fresh_breaker(), self._policy.default_limits, added_at=added_at)
        self._states[state.key_id] = state
        if spec.project is not None:
            self._projects.setdefault(spec.project, []).append(state.key_id)
        return state

    def delete(self, key_id: str) -> KeyState:
        """Remove a key and return its last state."""
        state = self._states.pop(key_id)
        self.disabled.discard(key_id)
        project = state.spec.project
        if project is not None:
            members = self._projects[project]
            members.remove(key_id)
            if not members:
                del self._projects[project]
        return state

    @property
    def breaker_policy(self) -> BreakerPolicy:
        """The breaker policy every key's breaker follows."""
        return self._breaker_policy

    def fresh_breaker(self) -> BreakerState:
        """A closed breaker under the pool's policy."""
        return BreakerState(policy=self._breaker_policy)

    def project_members(self, state: KeyState) -> list[KeyState]:
        """The keys sharing the key's project (itself included); just the key if untagged."""
        project = state.spec.project
        if project is None:
            return [state]
        return [self._states[member] for member in self._projects[project]]

    def all_disabled(self) -> bool:
        """Whether no key is usable at all (an empty pool counts)."""
        return len(self.disabled) == len(self._states)

    def usage(self, state: KeyState, model: str) -> UsageWindow | None:
        """The usage window enforcing the key's limits for ``model``; ``None`` if unlimited."""
        if not state.limited:
            return None
        if model in state.usage:
            return state.usage[model]
        pool_limits = self._policy.default_limits
        if (
            not state.limits_by_default
            and model not in state.spec.limits.models
            and model not in pool_limits.models
        ):
            return None  # not cached: requests naming many models must not grow memory
        limits = resolve_limits(state.spec.limits, pool_limits, model)
        window = None if limits.is_empty else UsageWindow(limits, self._days)
        state.usage[model] = window
        return window

    def gate(self, key_id: str, model: str, now: float) -> tuple[Gate, float]:
        """What the scheduler may do with this key for this model now (see the module docstring)."""
        state = self._states.get(key_id)
        if state is None or state.disabled:
            return _PARKED
        until = now
        breaker = state.breaker
        if breaker.phase is not BreakerPhase.CLOSED and not breaker.allows(now):
            until = breaker.blocked_until(now)
        if state.cooldowns:
            cooling = state.cooling_until(model, now)
            if cooling is not None and cooling > until:
                until = cooling
        if state.limited:
            window = self.usage(state, model)
            if window is not None:
                frees = window.frees_at(now)
                if frees is not None and frees > until:
                    until = frees
        if until > now:
            return (Gate.BLOCKED, until)
        min_health = self._policy.min_health
        health = state.health
        if min_health > 0.0 and health.outcome_ewma < 1.0:
            health_policy = self._policy.health
            if health.score(health_policy, now) < min_health:
                return (Gate.FALLBACK, health.recovers_at(health_policy, now, min_health))
        return _READY

    def weight(self, key_id: str, now: float) -> float:
        """The key's share under the weighted strategy: health times configured weight."""
        state = self._states[key_id]
        return state.health.score(self._policy.health, now) * state.spec.weight
