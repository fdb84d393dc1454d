"""State changes of pool keys, reported one at a time to whoever listens (logs, metrics)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class KeyEventKind(enum.StrEnum):
    """What happened to a key."""

    COOLED = "cooled"  # a (key, model) pair may not be used before ``until``
    OPENED = "opened"  # the breaker opened until ``until``
    HALF_OPEN = "half_open"  # a trial request went through an open breaker
    CLOSED = "closed"  # the breaker closed again
    DISABLED = "disabled"  # the key is out of rotation; ``until`` is its next probe, if any
    ENABLED = "enabled"  # back in rotation (a probe succeeded, or an admin said so)
    PROBE_FAILED = "probe_failed"  # a disabled key failed its re-test; ``until`` is the next one
    RESET = "reset"  # an admin cleared the key's cooldowns, breaker and health
    ADDED = "added"  # a key joined the pool at run time
    REMOVED = "removed"  # a key left the pool


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """One state change of one key; ``model`` is set for per-model changes (cooldowns)."""

    kind: KeyEventKind
    key_id: str
    model: str | None = None
    reason: str = ""
    until: float | None = None
