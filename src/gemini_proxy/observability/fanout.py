"""One dispatch observer and one key-event listener that pass everything on to several."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.outcome import Outcome
from gemini_proxy.upstream.dispatch import DispatchObserver
from gemini_proxy.upstream.usage import TokenUsage


class DispatchFanOut:
    """A ``DispatchObserver`` calling each of ``observers`` in order."""

    def __init__(self, observers: Sequence[DispatchObserver]) -> None:
        self._observers = tuple(observers)
        self._upstream_calls = tuple(observer.upstream_call for observer in self._observers)

    def upstream_call(
        self,
        key_id: str,
        model: str,
        outcome: Outcome,
        duration_s: float,
        usage: TokenUsage | None,
        at: float,
    ) -> None:
        for upstream_call in self._upstream_calls:  # bound once: called on every attempt
            upstream_call(key_id, model, outcome, duration_s, usage, at)

    def retry(self, reason: str) -> None:
        for observer in self._observers:
            observer.retry(reason)

    def refused(self, model: str, status: int) -> None:
        for observer in self._observers:
            observer.refused(model, status)


def key_event_fanout(listeners: Sequence[Callable[[KeyEvent], None]]) -> Callable[[KeyEvent], None]:
    """One ``on_event`` callback calling each of ``listeners`` in order."""
    chosen = tuple(listeners)

    def on_event(event: KeyEvent) -> None:
        for listener in chosen:
            listener(event)

    return on_event
