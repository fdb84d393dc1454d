"""Counters and histograms for the request path, without locks.

prometheus_client's instruments take a lock on every ``inc``/``observe`` (they are built
for threads). The proxy's request path runs on one event loop thread, so these keep
plain numbers in dicts and hand them to prometheus_client as metric families when it
collects: a request pays a dict lookup and an add. Only the event loop may update them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

LabelValues = tuple[str, ...]


class FastCounter:
    """A labelled counter; ``inc`` is a dict update."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.values: dict[LabelValues, float] = {}

    def inc(self, labels: LabelValues, amount: float = 1.0) -> None:
        values = self.values
        values[labels] = values.get(labels, 0.0) + amount

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self.values.items():
            family.add_metric(list(labels), value)
        return family


class FastHistogram:
    """A labelled histogram; ``observe`` is a bisect and two list updates."""

    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.bounds = list(buckets)
        # per label values: [count in each bucket..., count above the last bound, sum]
        self.values: dict[LabelValues, list[float]] = {}

    def observe(self, labels: LabelValues, amount: float) -> None:
        row = self.values.get(labels)
        if row is None:
            row = self.values[labels] = [0.0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, amount)] += 1
        row[-1] += amount

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        edges = [*(_bound(b) for b in self.bounds), "+Inf"]
        for labels, row in self.values.items():
            cumulative = 0.0
            buckets = []
            for edge, count in zip(edges, row[:-1], strict=True):
                cumulative += count
                buckets.append((edge, cumulative))
            family.add_metric(list(labels), buckets, row[-1])
        return family


def _bound(value: float) -> str:
    return repr(float(value))


class FastCollector:
    """Exposes a set of fast instruments to a ``CollectorRegistry``."""

    def __init__(self, instruments: Sequence[FastCounter | FastHistogram]) -> None:
        self._instruments = list(instruments)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for instrument in self._instruments:
            yield instrument.family()
