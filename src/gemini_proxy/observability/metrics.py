"""Prometheus metrics of one app: a private registry fed by the request path and the
dispatch loop, plus the pool and the store read at scrape time.

``Metrics`` implements the dispatch loop's ``DispatchObserver``. The hot-path methods
keep each labelled child in a dict keyed by its label values, so a request pays a dict
lookup and an ``inc``/``observe`` rather than ``labels()`` and its validation. Labels
carry key ids, never raw keys. Model names come from clients, so the distinct model
labels are capped (``MAX_MODEL_LABELS``); any further model is counted as ``other``.

``registry`` holds everything (tests read it); ``exposition()`` renders the same content
for ``GET /metrics``, writing the per-key pool gauges directly (see ``pool_collector``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.outcome import Outcome
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.observability.hot_metrics import (
    CALLS,
    CANDIDATES,
    PROMPT,
    SECONDS,
    THOUGHTS,
    CallTable,
    FastCollector,
    FastCounter,
    FastHistogram,
)
from gemini_proxy.observability.pool_collector import PoolCollector
from gemini_proxy.store.base import StateStore
from gemini_proxy.upstream.usage import TokenUsage

PREFIX = "gemini_proxy"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_MODEL_LABELS = 64
MAX_REASON_LABELS = 64
OTHER = "other"
# From a quick countTokens to a long stream.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class LabelCap:
    """Passes the first ``limit`` distinct values through; later ones become ``other``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.seen: set[str] = set()  # hot paths test ``value in cap.seen`` before calling

    def __call__(self, value: str) -> str:
        if value in self.seen:
            return value
        if len(self.seen) < self._limit:
            self.seen.add(value)
            return value
        return OTHER


class StoreCollector:
    """``gemini_proxy_store_backend{backend}``: 1 for the backend writes go to now."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        backend = getattr(self._store, "active_backend", None) or self._store.name
        family = GaugeMetricFamily(
            f"{PREFIX}_store_backend", "The state store backend in use (1).", labels=["backend"]
        )
        family.add_metric([str(backend)], 1.0)
        yield family


class SharedStateCollector:
    """``gemini_proxy_shared_state_up``: 1 while the state shared through Redis is reachable."""

    def __init__(self, is_up: Callable[[], bool]) -> None:
        self._is_up = is_up

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            f"{PREFIX}_shared_state_up",
            "1 while the key state shared with other instances (Redis) is reachable, else 0.",
            value=1.0 if self._is_up() else 0.0,
        )


class Metrics:
    """The app's instruments and its private registry (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._rendered = CollectorRegistry(auto_describe=False)  # all but the pool gauges
        self._pool: PoolCollector | None = None
        self._model = LabelCap(MAX_MODEL_LABELS)
        self._reason = LabelCap(MAX_REASON_LABELS)

        # requests_total is the count of the duration histogram's observations
        self._request_seconds = FastHistogram(
            f"{PREFIX}_request_duration_seconds",
            "Client request duration (to the end of a stream), by surface, model and status.",
            ["surface", "model", "status"],
            DURATION_BUCKETS,
            counter=(f"{PREFIX}_requests", "Client requests, by surface, model and status."),
        )
        self._upstream = CallTable(
            ["key_id", "model", "outcome"],
            calls=(f"{PREFIX}_upstream_calls", "Upstream calls, by key id, model and outcome."),
            seconds=(
                f"{PREFIX}_upstream_call_seconds",
                "Time spent in upstream calls, by key id, model and outcome.",
            ),
            tokens=(f"{PREFIX}_tokens", "Tokens reported by the upstream, by key id, model and kind."),
        )
        self._upstream_duration = FastHistogram(
            f"{PREFIX}_upstream_call_duration_seconds",
            "Upstream call duration, by model and outcome.",
            ["model", "outcome"],
            DURATION_BUCKETS,
        )
        self._retries = FastCounter(
            f"{PREFIX}_retries", "Attempts retried on another key, by reason.", ["reason"]
        )
        hot = FastCollector([self._request_seconds, self._upstream, self._upstream_duration, self._retries])
        self.registry.register(hot)
        self._rendered.register(hot)
        self._refused = self._add(
            Counter,
            "requests_refused",
            "Requests refused because no key could serve them (429 or 503), by model and status.",
            ["model", "status"],
        )
        self._streams = self._add(Gauge, "active_streams", "Client streams open now.", [])
        self._store_errors = self._add(
            Counter, "store_errors", "Failed state store writes, by operation.", ["operation"]
        )
        self._store_switches = self._add(
            Counter, "store_switches", "Switches of the state store backend.", ["from_backend", "to_backend"]
        )
        self._key_events = self._add(Counter, "key_events", "Key state changes, by kind.", ["event"])
        self._store_errors.labels("flush")

        self._status_labels: dict[int, str] = {}

    def _add(self, kind: Any, name: str, documentation: str, labels: list[str], **options: Any) -> Any:
        instrument = kind(name, documentation, labels, namespace=PREFIX, registry=None, **options)
        self.registry.register(instrument)
        self._rendered.register(instrument)
        return instrument

    # -- scrape ------------------------------------------------------------------------

    def watch(self, pool: KeyPool, store: StateStore) -> None:
        """Read ``pool`` and ``store`` at every scrape."""
        self._pool = PoolCollector(pool)
        self.registry.register(self._pool)
        store_collector = StoreCollector(store)
        self.registry.register(store_collector)
        self._rendered.register(store_collector)

    def watch_shared_state(self, is_up: Callable[[], bool]) -> None:
        """Read ``is_up()`` at every scrape (only instances sharing state through Redis)."""
        collector = SharedStateCollector(is_up)
        self.registry.register(collector)
        self._rendered.register(collector)

    def exposition(self) -> bytes:
        """Everything in ``registry`` as Prometheus text (``CONTENT_TYPE``)."""
        body = generate_latest(self._rendered)
        if self._pool is not None:
            body += self._pool.render().encode()
        return body

    # -- the request path --------------------------------------------------------------

    def request(self, surface: str, model: str | None, status: int, duration_s: float) -> None:
        """One client request finished (called by the access middleware)."""
        status_label = self._status_labels.get(status)
        if status_label is None:
            status_label = self._status_labels[status] = str(status)
        model = model or ""
        cap = self._model
        labels = (surface, model if model in cap.seen else cap(model), status_label)
        self._request_seconds.observe(labels, duration_s)

    def streams_changed(self, active: int) -> None:
        """``StreamCounter.on_change``."""
        self._streams.set(active)

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
        cap = self._model
        model_label = model if model in cap.seen else cap(model)
        kind: str = outcome.kind  # a StrEnum: the member is its label value
        labels = (key_id, model_label, kind)
        row = self._upstream.values.get(labels) or self._upstream.row(labels)
        row[CALLS] += 1
        row[SECONDS] += duration_s
        if usage is not None:
            row[PROMPT] += usage.prompt
            row[CANDIDATES] += usage.candidates
            row[THOUGHTS] += usage.thoughts
        self._upstream_duration.observe((model_label, kind), duration_s)

    def retry(self, reason: str) -> None:
        self._retries.inc((self._reason(reason or "unknown"),))

    def refused(self, model: str, status: int) -> None:
        self._refused.labels(self._model(model), str(status)).inc()

    # -- state changes -----------------------------------------------------------------

    def key_event(self, event: KeyEvent) -> None:
        """A pool ``KeyEvent``."""
        self._key_events.labels(event.kind.value).inc()

    def store_switched(self, old: str, new: str, reason: str) -> None:
        """``make_store(on_switch=...)``."""
        self._store_switches.labels(old, new).inc()

    def store_error(self, operation: str) -> None:
        """A write to the state store failed (``flush``, ``add_key``, ``remove_key``)."""
        self._store_errors.labels(operation).inc()
