"""This instance's changes waiting to be written to Redis and published: coalesced, never awaited.

``key_event`` (the pool's ``on_event`` listener) and ``usage`` (its usage listener) run on
the request path, so they only note what changed in dicts: a register, a cooldown, a
reset, a membership change, or counts to add. The writer task ``take``s everything
pending as one ``Batch``, pushes it, then ``settle``s it (or ``restore``s it after a
failure, merged with whatever came in meanwhile). The state to write is read from the
pool when the batch is pushed, so several changes of one register cost one write. While
Redis is away the outbox keeps growing only with distinct (key, model) pairs: usage is
summed per Pacific day.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.shared.messages import RegisterKind
from gemini_proxy.shared.stamps import Stamps

_REGISTER_OF: dict[KeyEventKind, RegisterKind] = {
    KeyEventKind.DISABLED: "disable",
    KeyEventKind.ENABLED: "disable",
    KeyEventKind.PROBE_FAILED: "disable",
    KeyEventKind.OPENED: "breaker",
    KeyEventKind.CLOSED: "breaker",
}

UsageKey = tuple[float, str, str]  # (Pacific day start, key id, model)


@dataclass
class Batch:
    """Changes to push: what changed and when (the state itself is read at push time)."""

    registers: dict[tuple[RegisterKind, str], float] = field(default_factory=dict)
    cooldowns: dict[tuple[str, str], float] = field(default_factory=dict)
    resets: dict[str, float] = field(default_factory=dict)
    added: dict[str, None] = field(default_factory=dict)
    removed: dict[str, None] = field(default_factory=dict)
    usage: dict[UsageKey, list[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.registers or self.cooldowns or self.resets or self.added or self.removed or self.usage
        )

    def __len__(self) -> int:
        return (
            len(self.registers)
            + len(self.cooldowns)
            + len(self.resets)
            + len(self.added)
            + len(self.removed)
            + len(self.usage)
        )

    def absorb(self, older: Batch) -> None:
        """Put an older batch's changes under this one's (newer stamps win, counts add up)."""
        for name in ("registers", "cooldowns", "resets"):
            mine: dict[object, float] = getattr(self, name)
            for item, at in getattr(older, name).items():
                mine[item] = max(at, mine.get(item, at))
        for key_id in older.added:
            if key_id not in self.removed:
                self.added.setdefault(key_id, None)
        for key_id in older.removed:
            if key_id not in self.added:
                self.removed.setdefault(key_id, None)
        for item, (requests, tokens) in older.usage.items():
            counts = self.usage.setdefault(item, [0, 0])
            counts[0] += requests
            counts[1] += tokens


class Outbox:
    """The pending changes of this instance (see the module docstring)."""

    def __init__(self, clock: Callable[[], float], stamps: Stamps) -> None:
        self._clock = clock
        self._stamps = stamps
        self._days = PacificDays()
        self._pending = Batch()
        self._in_flight: Batch | None = None
        self._ready = asyncio.Event()  # something is pending

    def __len__(self) -> int:
        return len(self._pending) + (len(self._in_flight) if self._in_flight is not None else 0)

    def key_event(self, event: KeyEvent) -> None:
        """The pool's ``on_event``: note a local change to share (stamped now, see ``Stamps``)."""
        kind, key_id = event.kind, event.key_id
        now = self._clock()
        pending = self._pending
        register = _REGISTER_OF.get(kind)
        if register is not None:
            pending.registers[(register, key_id)] = self._stamps.local_register(register, key_id, now)
        elif kind is KeyEventKind.COOLED and event.model is not None:
            pending.cooldowns[(key_id, event.model)] = self._stamps.local_cooldown(key_id, event.model, now)
        elif kind is KeyEventKind.RESET:
            pending.resets[key_id] = self._stamps.local_reset(key_id, now)
        elif kind is KeyEventKind.ADDED and event.reason == "admin":
            pending.removed.pop(key_id, None)
            pending.added[key_id] = None
        elif kind is KeyEventKind.REMOVED:
            pending.added.pop(key_id, None)
            pending.removed[key_id] = None
        else:
            return  # a half-open trial, or a key added by this instance's own configuration
        self._ready.set()

    def usage(self, key_id: str, model: str, at: float, requests: int, tokens: int) -> None:
        """The pool's usage listener: counts to add to the shared counters."""
        item = (self._days.start(at), key_id, model)
        counts = self._pending.usage.get(item)
        if counts is None:
            self._pending.usage[item] = [requests, tokens]
        else:
            counts[0] += requests
            counts[1] += tokens
        self._ready.set()

    async def wait(self) -> None:
        """Until something is pending."""
        await self._ready.wait()

    def take(self) -> Batch:
        """Everything pending, now in flight (``settle`` or ``restore`` it after the push)."""
        self._ready.clear()
        batch, self._pending = self._pending, Batch()
        self._in_flight = batch
        return batch

    def settle(self) -> None:
        """The batch in flight was written."""
        self._in_flight = None

    def restore(self) -> None:
        """The batch in flight was not written: it is pending again, under newer changes."""
        if self._in_flight is not None:
            self._pending.absorb(self._in_flight)
            self._in_flight = None
        if self._pending:
            self._ready.set()

    def pending_usage(self, key_id: str, model: str, day_start: float) -> tuple[int, int]:
        """Requests and tokens counted here for the pair and day that Redis may not hold yet."""
        requests = tokens = 0
        for batch in (self._pending, self._in_flight):
            if batch is not None and (counts := batch.usage.get((day_start, key_id, model))) is not None:
                requests += counts[0]
                tokens += counts[1]
        return requests, tokens

    def adding(self, key_id: str) -> bool:
        """Whether an added key is waiting to be written."""
        return key_id in self._pending.added or (
            self._in_flight is not None and key_id in self._in_flight.added
        )
