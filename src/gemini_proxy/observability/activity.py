"""Recent activity the admin API shows: the last errors of each key and the models in use.

``RecentActivity`` is a ``DispatchObserver`` (failed upstream calls) and listens to the
pool's ``KeyEvent``s (failed probes, removed keys). Memory is bounded: a ring of
``per_key`` entries for each key that had an error (dropped when the key leaves the
pool), and at most ``max_models`` model names, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from gemini_proxy.keys.events import KeyEvent, KeyEventKind
from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.upstream.usage import TokenUsage

_NOT_ERRORS = (OutcomeKind.SUCCESS, OutcomeKind.CLIENT_ERROR)


@dataclass(frozen=True, slots=True)
class KeyFailure:
    """One failure of one key: a request's upstream call, or a probe."""

    at: float
    source: str  # "request" | "probe"
    kind: str | None  # the OutcomeKind value for a request ("rate_limited", "key_rejected", "transient")
    reason: str
    model: str | None
    duration_s: float | None


class RecentActivity:
    """Bounded recent errors per key and recently used models (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float], per_key: int = 20, max_models: int = 32) -> None:
        self._clock = clock
        self._per_key = per_key
        self._max_models = max_models
        self._errors: dict[str, deque[KeyFailure]] = {}
        self._models: OrderedDict[str, None] = OrderedDict()
        self._last_model = ""  # the last of ``_models`` ("" while none)

    def errors(self, key_id: str) -> list[KeyFailure]:
        """The key's recent errors, newest first."""
        return list(reversed(self._errors.get(key_id, ())))

    def models(self) -> list[str]:
        """The models requests named recently (most recent last)."""
        return list(self._models)

    def record(self, key_id: str, entry: KeyFailure) -> None:
        ring = self._errors.get(key_id)
        if ring is None:
            ring = self._errors[key_id] = deque(maxlen=self._per_key)
        ring.append(entry)

    def _saw_model(self, model: str) -> None:
        if not model:
            return
        self._last_model = model
        models = self._models
        if model in models:
            models.move_to_end(model)
            return
        models[model] = None
        if len(models) > self._max_models:
            models.popitem(last=False)

    # -- DispatchObserver --------------------------------------------------------------

    def upstream_call(
        self,
        key_id: str,
        model: str,
        outcome: Outcome,
        duration_s: float,
        usage: TokenUsage | None,
        at: float,
    ) -> None:
        if model != self._last_model:  # the most recent model needs no reordering
            self._saw_model(model)
        if outcome.kind in _NOT_ERRORS:
            return
        self.record(
            key_id, KeyFailure(at, "request", outcome.kind.value, outcome.reason, model or None, duration_s)
        )

    def retry(self, reason: str) -> None:
        return None

    def refused(self, model: str, status: int) -> None:
        self._saw_model(model)

    # -- key events --------------------------------------------------------------------

    def key_event(self, event: KeyEvent) -> None:
        """Keep failed probes; forget a removed key's errors."""
        if event.kind is KeyEventKind.PROBE_FAILED:
            self.record(event.key_id, KeyFailure(self._clock(), "probe", None, event.reason, None, None))
        elif event.kind is KeyEventKind.REMOVED:
            self._errors.pop(event.key_id, None)
