"""Which key serves the next request for a model: three strategies, each O(log n) per pick.

The scheduler knows key ids only. Whether a key can serve a model right now is asked of
a *gate* supplied by the pool, ``gate(key_id, model, now) -> (Gate, until)``:

- ``READY``: usable now;
- ``FALLBACK``: usable, but only when no READY key is left (health below the minimum);
  ``until`` is when it would be READY again if nothing happens;
- ``BLOCKED``: not usable before ``until`` (cooling, breaker open, trial in flight, at a limit);
- ``PARKED``: not usable until the pool wakes it (disabled).

Per model the scheduler keeps every key in exactly one place: the *ready* structure,
the *blocked* min-heap or the *fallback* min-heap (both ordered by ``until``), or the
*parked* set. A pick first moves the heap entries whose time has passed back to ready,
then asks the gate about the ready structure's next candidate: a READY answer is the
pick, any other answer moves the key to the heap or set it names and the pick asks about
the next candidate. When ready runs dry, the fallback heap's top (the low-health key that
recovers soonest) is used.

Why the cost holds: the gate is O(1); every gate answer other than READY moves one key
out of ready, and a key only re-enters ready when its time passes or the pool wakes it
(after a state change of that key). So the keys a pick passes over are paid for by
earlier state changes, one heap operation each: O(log n) amortized per pick, O(1) for
round robin when nothing changes. Heap entries are invalidated lazily (each carries a
sequence number; a stale one is dropped when it surfaces) and a heap is rebuilt when
stale entries outnumber live ones, which keeps memory O(n) at amortized O(1) cost.

Strategies (``Strategy``):

- ``round_robin``: an insertion-ordered ring; the pick moves to the back. With the
  gate's FALLBACK answer for low-health keys this is health-aware round robin.
- ``least_used``: a min-heap on per-model use counts ("virtual time"); each pick adds 1.
- ``weighted``: the same heap, each pick adds ``1 / weight`` where the pool's weight is
  health x configured weight (stride scheduling: deterministic, proportional shares).

A key that (re)joins a virtual-time heap starts at the current minimum, so a key back
from a long cooldown does not absorb a burst of picks to "catch up".

The per-model structures are built on first use of a model (O(n) once); at most
``max_models`` are kept, least recently picked dropped first (rebuilt on demand), so
requests naming many bogus models cannot grow memory without bound.
"""

from __future__ import annotations

import enum
import heapq
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable

from gemini_proxy.keys.ready import ReadyQueue, RoundRobinRing, VirtualTimeHeap


class Strategy(enum.StrEnum):
    """How the scheduler chooses among the keys that can serve a model."""

    ROUND_ROBIN = "round_robin"
    LEAST_USED = "least_used"
    WEIGHTED = "weighted"


class Gate(enum.IntEnum):
    """What the pool says about one key for one model at one moment."""

    READY = 0
    FALLBACK = 1
    BLOCKED = 2
    PARKED = 3


GateFn = Callable[[str, str, float], tuple[Gate, float]]
WeightFn = Callable[[str, float], float]

_HeapEntry = tuple[float, int, str]
_MIN_WEIGHT = 1e-3


def _unit_step(key_id: str, now: float) -> float:
    return 1.0


class _ModelQueue:
    """Where each key stands for one model."""

    __slots__ = ("blocked", "fallback", "model", "place", "ready", "seq", "valid_seq")

    def __init__(self, model: str, ready: ReadyQueue, keys: Iterable[str]) -> None:
        self.model = model
        self.ready = ready
        self.blocked: list[_HeapEntry] = []
        self.fallback: list[_HeapEntry] = []
        self.place: dict[str, Gate] = {}
        self.valid_seq: dict[str, int] = {}
        self.seq = 0
        for key_id in keys:
            self.place[key_id] = Gate.READY
        ready.extend(self.place)


class Scheduler:
    """Picks keys for models through a gate; see the module docstring for the cost model."""

    def __init__(
        self,
        strategy: Strategy,
        gate: GateFn,
        weight: WeightFn | None = None,
        *,
        max_models: int = 256,
    ) -> None:
        strategy = Strategy(strategy)
        if strategy is Strategy.WEIGHTED and weight is None:
            raise ValueError("the weighted strategy needs a weight function")
        self._strategy = strategy
        self._gate = gate
        self._weight = weight
        self._max_models = max_models
        self._keys: dict[str, None] = {}
        self._queues: OrderedDict[str, _ModelQueue] = OrderedDict()
        self._waiting_in: dict[str, set[str]] = {}

    @property
    def strategy(self) -> Strategy:
        """The strategy in use."""
        return self._strategy

    def add(self, key_id: str) -> None:
        """Make a new key eligible for every model."""
        if key_id in self._keys:
            return
        self._keys[key_id] = None
        for queue in self._queues.values():
            queue.place[key_id] = Gate.READY
            queue.ready.add(key_id)

    def remove(self, key_id: str) -> None:
        """Forget a key everywhere."""
        self._keys.pop(key_id, None)
        self._waiting_in.pop(key_id, None)
        for queue in self._queues.values():
            queue.place.pop(key_id, None)
            queue.ready.forget(key_id)
            queue.valid_seq.pop(key_id, None)

    def wake(self, key_id: str) -> None:
        """Re-examine a key that may have become usable earlier than the scheduler thinks.

        The pool calls this after any change to the key's state; it costs nothing when
        the key is not waiting for any model.
        """
        models = self._waiting_in.pop(key_id, None)
        if not models:
            return
        for model in models:
            queue = self._queues.get(model)
            if queue is not None and queue.place.get(key_id, Gate.READY) is not Gate.READY:
                self._to_ready(queue, key_id)

    def clear(self) -> None:
        """Drop every per-model structure (they are rebuilt on the next pick)."""
        self._queues.clear()
        self._waiting_in.clear()

    def pick(self, model: str, now: float, exclude: Collection[str] = ()) -> str | None:
        """The key to use for ``model`` now, skipping ``exclude``; ``None`` if none can serve."""
        queue = self._queues.get(model)
        if queue is None:
            queue = self._queue(model)
        else:  # ``_queue``'s hit path, inlined
            self._queues.move_to_end(model)
        return self._select(queue, now, exclude, commit=True)

    def earliest_recovery(self, model: str, now: float, exclude: Collection[str] = ()) -> float | None:
        """``now`` if a key outside ``exclude`` can serve ``model``, else when the first blocked
        key recovers; ``None`` if no key will recover on its own (all parked, or no keys)."""
        queue = self._queue(model)
        if self._select(queue, now, exclude, commit=False) is not None:
            return now
        return self._earliest_blocked(queue, now)

    def waiting_count(self, model: str) -> int:
        """How many keys are not in the ready structure for ``model`` (for tests and views)."""
        queue = self._queues.get(model)
        if queue is None:
            return 0
        return sum(1 for place in queue.place.values() if place is not Gate.READY)

    # -- internals -------------------------------------------------------------------

    def _queue(self, model: str) -> _ModelQueue:
        queue = self._queues.get(model)
        if queue is not None:
            self._queues.move_to_end(model)
            return queue
        queue = _ModelQueue(model, self._new_ready(), self._keys)
        self._queues[model] = queue
        if len(self._queues) > self._max_models:
            _, evicted = self._queues.popitem(last=False)
            for key_id, place in evicted.place.items():
                if place is not Gate.READY and key_id in self._waiting_in:
                    self._waiting_in[key_id].discard(evicted.model)
        return queue

    def _new_ready(self) -> ReadyQueue:
        if self._strategy is Strategy.ROUND_ROBIN:
            return RoundRobinRing()
        if self._strategy is Strategy.LEAST_USED:
            return VirtualTimeHeap(_unit_step)
        weight = self._weight
        assert weight is not None  # checked in __init__
        return VirtualTimeHeap(lambda key_id, now: 1.0 / max(weight(key_id, now), _MIN_WEIGHT))

    def _select(
        self, queue: _ModelQueue, now: float, exclude: Collection[str], *, commit: bool
    ) -> str | None:
        if queue.blocked or queue.fallback:
            self._promote(queue, now)
        ready = queue.ready
        ready.begin_pick(now)
        try:
            while True:
                key_id = ready.first(exclude)
                if key_id is None:
                    break
                verdict, until = self._gate(key_id, queue.model, now)
                if verdict is Gate.READY:
                    if commit:
                        ready.picked(key_id)
                    return key_id
                self._move(queue, key_id, verdict, until)
        finally:
            ready.end_pick()
        return self._select_fallback(queue, now, exclude, commit=commit)

    def _select_fallback(
        self, queue: _ModelQueue, now: float, exclude: Collection[str], *, commit: bool
    ) -> str | None:
        aside: list[_HeapEntry] = []
        try:
            while True:
                entry = self._peek(queue, queue.fallback, exclude, aside)
                if entry is None:
                    return None
                recorded_until, _, key_id = entry
                verdict, until = self._gate(key_id, queue.model, now)
                if verdict is Gate.READY:
                    self._to_ready(queue, key_id)
                    if commit:
                        queue.ready.picked(key_id)
                    return key_id
                if verdict is Gate.FALLBACK and until <= recorded_until:
                    return key_id
                self._move(queue, key_id, verdict, until)
        finally:
            for entry in aside:
                heapq.heappush(queue.fallback, entry)

    def _earliest_blocked(self, queue: _ModelQueue, now: float) -> float | None:
        while True:
            entry = self._peek(queue, queue.blocked, (), [])
            if entry is None:
                return None
            recorded_until, _, key_id = entry
            verdict, until = self._gate(key_id, queue.model, now)
            if verdict is Gate.BLOCKED and until <= recorded_until:
                return recorded_until
            if verdict is Gate.READY or verdict is Gate.FALLBACK:
                return now
            self._move(queue, key_id, verdict, until)

    def _peek(
        self, queue: _ModelQueue, heap: list[_HeapEntry], exclude: Collection[str], aside: list[_HeapEntry]
    ) -> _HeapEntry | None:
        """The first live, non-excluded entry of a heap; excluded ones are set aside."""
        while heap:
            entry = heap[0]
            if queue.valid_seq.get(entry[2]) != entry[1]:
                heapq.heappop(heap)
            elif entry[2] in exclude:
                aside.append(heapq.heappop(heap))
            else:
                return entry
        return None

    def _promote(self, queue: _ModelQueue, now: float) -> None:
        for heap in (queue.blocked, queue.fallback):
            while heap and heap[0][0] <= now:
                _, seq, key_id = heapq.heappop(heap)
                if queue.valid_seq.get(key_id) == seq:
                    self._to_ready(queue, key_id)

    def _to_ready(self, queue: _ModelQueue, key_id: str) -> None:
        queue.valid_seq.pop(key_id, None)
        queue.place[key_id] = Gate.READY
        queue.ready.add(key_id)
        models = self._waiting_in.get(key_id)
        if models is not None:
            models.discard(queue.model)

    def _move(self, queue: _ModelQueue, key_id: str, verdict: Gate, until: float) -> None:
        """Take a key out of wherever it is for this model and put it where ``verdict`` says."""
        if queue.place.get(key_id) is Gate.READY:
            queue.ready.discard(key_id)
        queue.place[key_id] = verdict
        queue.seq += 1
        self._waiting_in.setdefault(key_id, set()).add(queue.model)
        if verdict is Gate.PARKED:
            queue.valid_seq.pop(key_id, None)
            return
        queue.valid_seq[key_id] = queue.seq
        heap = queue.blocked if verdict is Gate.BLOCKED else queue.fallback
        heapq.heappush(heap, (until, queue.seq, key_id))
        if len(heap) > 2 * len(queue.valid_seq) + 64:
            self._compact(queue)

    def _compact(self, queue: _ModelQueue) -> None:
        for name in ("blocked", "fallback"):
            heap: list[_HeapEntry] = getattr(queue, name)
            live = [entry for entry in heap if queue.valid_seq.get(entry[2]) == entry[1]]
            heapq.heapify(live)
            setattr(queue, name, live)
