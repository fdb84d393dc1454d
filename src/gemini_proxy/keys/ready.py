"""The scheduler's ready structures: the keys it believes can serve one model, in pick order.

Both implement ``ReadyQueue``. The scheduler asks ``first(exclude)`` for a candidate,
``discard``s it if the gate says no, and reports the chosen one with ``picked``;
``begin_pick`` and ``end_pick`` bracket one pick (the heap sets excluded entries aside
during a pick and puts them back at its end).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from typing import Protocol


class ReadyQueue(Protocol):
    """The ordered set of keys a strategy chooses from."""

    def __len__(self) -> int: ...

    def add(self, key_id: str) -> None:
        """Add a key (joining at the back, or at the current minimum for a heap)."""

    def extend(self, key_ids: Iterable[str]) -> None:
        """Add many keys at once."""

    def discard(self, key_id: str) -> None:
        """Remove a key if present."""

    def forget(self, key_id: str) -> None:
        """Remove a key for good (it left the pool)."""

    def begin_pick(self, now: float) -> None:
        """Start one pick at ``now``."""

    def first(self, exclude: Collection[str]) -> str | None:
        """The next candidate that is not excluded, without removing it."""

    def picked(self, key_id: str) -> None:
        """The candidate was chosen: move it to the back of the order."""

    def end_pick(self) -> None:
        """Finish the pick (restore anything set aside)."""


class RoundRobinRing:
    """Round robin over an insertion-ordered dict: O(1) add, discard, first and picked."""

    __slots__ = ("_ring",)

    def __init__(self) -> None:
        self._ring: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ring)

    def add(self, key_id: str) -> None:
        """Join at the back of the ring."""
        self._ring[key_id] = None

    def extend(self, key_ids: Iterable[str]) -> None:
        """Join many keys at the back, in order."""
        for key_id in key_ids:
            self._ring[key_id] = None

    def discard(self, key_id: str) -> None:
        """Leave the ring."""
        self._ring.pop(key_id, None)

    def forget(self, key_id: str) -> None:
        """Leave the ring for good."""
        self._ring.pop(key_id, None)

    def begin_pick(self, now: float) -> None:
        """Nothing to prepare."""

    def first(self, exclude: Collection[str]) -> str | None:
        """The front of the ring, passing over excluded keys (O(len(exclude)))."""
        for key_id in self._ring:
            if key_id not in exclude:
                return key_id
        return None

    def picked(self, key_id: str) -> None:
        """Send the chosen key to the back."""
        self._ring.move_to_end(key_id)

    def end_pick(self) -> None:
        """Nothing to restore."""


StepFn = Callable[[str, float], float]


class VirtualTimeHeap:
    """A min-heap on virtual time: each pick advances the chosen key by ``step(key, now)``.

    With a constant step this is least-used; with ``1 / weight`` it is stride scheduling
    (each key gets picks in proportion to its weight). Entries are invalidated lazily and
    the heap is rebuilt when stale entries outnumber live ones.
    """

    __slots__ = ("_aside", "_floor", "_heap", "_live", "_now", "_seq", "_step", "_vtime")

    def __init__(self, step: StepFn) -> None:
        self._step = step
        self._heap: list[tuple[float, int, str]] = []
        self._live: dict[str, int] = {}
        self._vtime: dict[str, float] = {}
        self._aside: list[tuple[float, int, str]] = []
        self._floor = 0.0
        self._seq = 0
        self._now = 0.0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, key_id: str) -> None:
        """Join at ``max(own virtual time, current minimum)``."""
        vtime = max(self._vtime.get(key_id, 0.0), self._floor)
        self._push(key_id, vtime)

    def extend(self, key_ids: Iterable[str]) -> None:
        """Add many keys at once (one heapify)."""
        for key_id in key_ids:
            vtime = max(self._vtime.get(key_id, 0.0), self._floor)
            self._seq += 1
            self._vtime[key_id] = vtime
            self._live[key_id] = self._seq
            self._heap.append((vtime, self._seq, key_id))
        heapq.heapify(self._heap)

    def discard(self, key_id: str) -> None:
        """Leave the heap (its entry goes stale; its virtual time is remembered)."""
        self._live.pop(key_id, None)

    def forget(self, key_id: str) -> None:
        """Leave the heap and drop the remembered virtual time."""
        self._live.pop(key_id, None)
        self._vtime.pop(key_id, None)

    def begin_pick(self, now: float) -> None:
        """Remember ``now`` for the step function."""
        self._now = now

    def first(self, exclude: Collection[str]) -> str | None:
        """The live key with the least virtual time; excluded ones are set aside."""
        heap = self._heap
        while heap:
            _, seq, key_id = heap[0]
            if self._live.get(key_id) != seq:
                heapq.heappop(heap)
            elif key_id in exclude:
                self._aside.append(heapq.heappop(heap))
            else:
                return key_id
        return None

    def picked(self, key_id: str) -> None:
        """Advance the chosen key's virtual time by its step."""
        vtime = self._vtime[key_id]
        heap = self._heap
        if heap and heap[0][2] == key_id and heap[0][1] == self._live.get(key_id):
            self._floor = max(self._floor, vtime)
        self._push(key_id, vtime + self._step(key_id, self._now))

    def end_pick(self) -> None:
        """Put back the excluded entries set aside by ``first``."""
        for entry in self._aside:
            heapq.heappush(self._heap, entry)
        self._aside.clear()

    def _push(self, key_id: str, vtime: float) -> None:
        self._seq += 1
        self._vtime[key_id] = vtime
        self._live[key_id] = self._seq
        heapq.heappush(self._heap, (vtime, self._seq, key_id))
        if len(self._heap) > 2 * len(self._live) + 64 and not self._aside:
            self._heap = [(self._vtime[k], seq, k) for k, seq in self._live.items()]
            heapq.heapify(self._heap)
