"""When each key's shared registers last changed, as this instance knows it.

A change is taken only if it is not older than what is known (the later change wins),
so instances that hear the same changes in different orders end in the same state.
Local changes are stamped by this instance's clock, but never before what it already
knows (``local_*``): a change made here comes after every change this instance has seen,
even when another host's clock runs ahead.
"""

from __future__ import annotations

from typing import Final

from gemini_proxy.shared.codec import KeyStamps
from gemini_proxy.shared.messages import RegisterKind

TICK: Final = 0.001  # a local change is stamped at least this much after what it follows


class Stamps:
    """Register and reset stamps by key id, and when each (key, model) cooldown was set."""

    def __init__(self) -> None:
        self._registers: dict[tuple[RegisterKind, str], float] = {}
        self._resets: dict[str, float] = {}
        self.cooled: dict[tuple[str, str], float] = {}

    def of(self, key_id: str) -> KeyStamps:
        """The stamps of one key."""
        return KeyStamps(
            status_at=self._registers.get(("disable", key_id), 0.0),
            breaker_at=self._registers.get(("breaker", key_id), 0.0),
            reset_at=self._resets.get(key_id, 0.0),
        )

    def register(self, kind: RegisterKind, key_id: str) -> float:
        """When a register last changed (0: not since this instance started)."""
        return self._registers.get((kind, key_id), 0.0)

    def take_register(self, kind: RegisterKind, key_id: str, at: float) -> bool:
        """Record a register change ``at``; whether it is not older than the known one."""
        if at < self._registers.get((kind, key_id), 0.0):
            return False
        self._registers[(kind, key_id)] = at
        return True

    def reset_at(self, key_id: str) -> float:
        """When the key was last reset (0: not known)."""
        return self._resets.get(key_id, 0.0)

    def take_reset(self, key_id: str, at: float) -> bool:
        """Record a reset ``at`` (it also stamps both registers); whether it is the newest."""
        if at < self._resets.get(key_id, 0.0):
            return False
        self._resets[key_id] = at
        for kind in ("disable", "breaker"):
            self.take_register(kind, key_id, at)
        return True

    def local_register(self, kind: RegisterKind, key_id: str, now: float) -> float:
        """Stamp a register change made here ``now``; the stamp it got."""
        at = max(now, self.register(kind, key_id) + TICK)
        self._registers[(kind, key_id)] = at
        return at

    def local_reset(self, key_id: str, now: float) -> float:
        """Stamp a reset made here ``now`` (after both registers and the last reset)."""
        known = max(self.reset_at(key_id), self.register("disable", key_id), self.register("breaker", key_id))
        at = max(now, known + TICK)
        self.take_reset(key_id, at)
        return at

    def local_cooldown(self, key_id: str, model: str, now: float) -> float:
        """Stamp a cooldown set here ``now`` (after the key's last reset)."""
        at = max(now, self.reset_at(key_id) + TICK)
        self.cooled[(key_id, model)] = at
        return at

    def forget(self, key_id: str) -> None:
        """Drop the stamps of a key that left the pool."""
        self._resets.pop(key_id, None)
        self._registers.pop(("disable", key_id), None)
        self._registers.pop(("breaker", key_id), None)
