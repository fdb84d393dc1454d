"""Lock-free request-path instruments expose the same samples as prometheus_client's own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from gemini_proxy.observability.hot_metrics import FastCollector, FastCounter, FastHistogram

BUCKETS = (0.01, 0.1, 1.0)
OBSERVATIONS = [0.005, 0.01, 0.05, 0.5, 0.5, 2.0, 30.0]


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in registry.collect()
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


class TestFastInstruments:
    def test_counter_matches_prometheus_client(self) -> None:
        """Counts per label set equal a prometheus_client Counter's."""
        ours, theirs = CollectorRegistry(), CollectorRegistry()
        fast = FastCounter("x_requests", "doc", ["route", "status"])
        ours.register(FastCollector([fast]))
        reference = Counter("x_requests", "doc", ["route", "status"], registry=theirs)
        for route, status, amount in [("a", "200", 1), ("a", "200", 2), ("b", "500", 1.5)]:
            fast.inc((route, status), amount)
            reference.labels(route, status).inc(amount)
        assert _samples(ours) == _samples(theirs)

    def test_histogram_matches_prometheus_client(self) -> None:
        """Cumulative buckets (bounds inclusive), +Inf, count and sum equal a Histogram's."""
        ours, theirs = CollectorRegistry(), CollectorRegistry()
        fast = FastHistogram("x_seconds", "doc", ["route"], BUCKETS)
        ours.register(FastCollector([fast]))
        reference = Histogram("x_seconds", "doc", ["route"], buckets=BUCKETS, registry=theirs)
        for value in OBSERVATIONS:
            fast.observe(("a",), value)
            reference.labels("a").observe(value)
        assert _samples(ours) == _samples(theirs)
