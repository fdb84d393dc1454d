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

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.outcome import Outcome
from gemini_proxy.keys.pool import KeyPool
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
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self._limit:
            self._seen.add(value)
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


class Metrics:
    """The app's instruments and its private registry (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self._rendered = CollectorRegistry(auto_describe=False)  # all but the pool gauges
        self._pool: PoolCollector | None = None
        self._model = LabelCap(MAX_MODEL_LABELS)
        self._reason = LabelCap(MAX_REASON_LABELS)

        self._requests = self._add(
            Counter,
            "requests",
            "Client requests, by surface, model and status.",
            ["surface", "model", "status"],
        )
        self._request_seconds = self._add(
            Histogram,
            "request_duration_seconds",
            "Client request duration (to the end of a stream), by surface, model and status.",
            ["surface", "model", "status"],
            buckets=DURATION_BUCKETS,
        )
        self._upstream_calls = self._add(
            Counter,
            "upstream_calls",
            "Upstream calls, by key id, model and outcome.",
            ["key_id", "model", "outcome"],
        )
        self._upstream_seconds = self._add(
            Counter,
            "upstream_call_seconds",
            "Time spent in upstream calls, by key id, model and outcome.",
            ["key_id", "model", "outcome"],
        )
        self._upstream_duration = self._add(
            Histogram,
            "upstream_call_duration_seconds",
            "Upstream call duration, by model and outcome.",
            ["model", "outcome"],
            buckets=DURATION_BUCKETS,
        )
        self._retries = self._add(
            Counter, "retries", "Attempts retried on another key, by reason.", ["reason"]
        )
        self._refused = self._add(
            Counter,
            "requests_refused",
            "Requests refused because no key could serve them (429 or 503), by model and status.",
            ["model", "status"],
        )
        self._tokens = self._add(
            Counter,
            "tokens",
            "Tokens reported by the upstream, by key id, model and kind.",
            ["key_id", "model", "kind"],
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

        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._upstream_children: dict[tuple[str, str, str], tuple[Any, Any, Any]] = {}
        self._token_children: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        self._retry_children: dict[str, Any] = {}

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

    def exposition(self) -> bytes:
        """Everything in ``registry`` as Prometheus text (``CONTENT_TYPE``)."""
        body = generate_latest(self._rendered)
        if self._pool is not None:
            body += self._pool.render().encode()
        return body

    # -- the request path --------------------------------------------------------------

    def request(self, surface: str, model: str | None, status: int, duration_s: float) -> None:
        """One client request finished (called by the access middleware)."""
        key = (surface, self._model(model or ""), status)
        children = self._request_children.get(key)
        if children is None:
            labels = (key[0], key[1], str(status))
            children = (self._requests.labels(*labels), self._request_seconds.labels(*labels))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(duration_s)

    def streams_changed(self, active: int) -> None:
        """``StreamCounter.on_change``."""
        self._streams.set(active)

    # -- DispatchObserver --------------------------------------------------------------

    def upstream_call(self, key_id: str, model: str, outcome: Outcome, duration_s: float) -> None:
        key = (key_id, self._model(model), outcome.kind.value)
        children = self._upstream_children.get(key)
        if children is None:
            children = (
                self._upstream_calls.labels(*key),
                self._upstream_seconds.labels(*key),
                self._upstream_duration.labels(key[1], key[2]),
            )
            self._upstream_children[key] = children
        children[0].inc()
        children[1].inc(duration_s)
        children[2].observe(duration_s)

    def retry(self, reason: str) -> None:
        label = self._reason(reason or "unknown")
        child = self._retry_children.get(label)
        if child is None:
            child = self._retry_children[label] = self._retries.labels(label)
        child.inc()

    def refused(self, model: str, status: int) -> None:
        self._refused.labels(self._model(model), str(status)).inc()

    def tokens(self, key_id: str, model: str, usage: TokenUsage) -> None:
        key = (key_id, self._model(model))
        children = self._token_children.get(key)
        if children is None:
            children = (
                self._tokens.labels(key_id, key[1], "prompt"),
                self._tokens.labels(key_id, key[1], "candidates"),
                self._tokens.labels(key_id, key[1], "thoughts"),
            )
            self._token_children[key] = children
        if usage.prompt > 0:
            children[0].inc(usage.prompt)
        if usage.candidates > 0:
            children[1].inc(usage.candidates)
        if usage.thoughts > 0:
            children[2].inc(usage.thoughts)

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
