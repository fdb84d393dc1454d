"""Counters and histograms for the request path, without locks.

prometheus_client's instruments take a lock on every ``inc``/``observe`` (they are built
for threads). The proxy's request path runs on one event loop thread, so these keep
plain numbers in dicts and hand them to prometheus_client as metric families when it
collects: a request pays a dict lookup and an add. Only the event loop may update them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

LabelValues = tuple[str, ...]


class FastInstrument(Protocol):
    def families(self) -> Iterator[Metric]: ...


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

    def families(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in self.values.items():
            family.add_metric(list(labels), value)
        yield family


class FastHistogram:
    """A labelled histogram; ``observe`` is a bisect and two list updates.

    With ``counter=(name, documentation)`` it also exposes a counter of the observations
    under the same labels (what a separate counter would count, without its update).
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        buckets: Sequence[float],
        *,
        counter: tuple[str, str] | None = None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = list(labels)
        self.bounds = list(buckets)
        self.counter = counter
        # per label values: [count in each bucket..., count above the last bound, sum]
        self.values: dict[LabelValues, list[float]] = {}

    def observe(self, labels: LabelValues, amount: float) -> None:
        row = self.values.get(labels)
        if row is None:
            row = self.values[labels] = [0.0] * (len(self.bounds) + 2)
        row[bisect_left(self.bounds, amount)] += 1
        row[-1] += amount

    def families(self) -> Iterator[Metric]:
        if self.counter is not None:
            name, documentation = self.counter
            counts = CounterMetricFamily(name, documentation, labels=self.labels)
            for labels, row in self.values.items():
                counts.add_metric(list(labels), sum(row[:-1]))
            yield counts
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        edges = [*(_bound(b) for b in self.bounds), "+Inf"]
        for labels, row in self.values.items():
            cumulative = 0.0
            buckets = []
            for edge, count in zip(edges, row[:-1], strict=True):
                cumulative += count
                buckets.append((edge, cumulative))
            family.add_metric(list(labels), buckets, row[-1])
        yield family


# The columns of a ``CallTable`` row.
CALLS, SECONDS, PROMPT, CANDIDATES, THOUGHTS = range(5)
_TOKEN_KINDS = (("prompt", PROMPT), ("candidates", CANDIDATES), ("thoughts", THOUGHTS))


class CallTable:
    """Upstream calls by (key id, model, outcome), one row each: calls, seconds and tokens.

    A call updates one row (``row(labels)``, then adds to its columns) where three
    counters would take three lookups; at collection the rows become three families:
    ``calls`` and ``seconds`` by (key id, model, outcome), and ``tokens`` by
    (key id, model, kind), summed over outcomes, for the kinds counted at least once.
    """

    def __init__(
        self,
        labels: Sequence[str],
        *,
        calls: tuple[str, str],
        seconds: tuple[str, str],
        tokens: tuple[str, str],
    ) -> None:
        self.labels = list(labels)
        self._names = (calls, seconds, tokens)
        self.values: dict[LabelValues, list[float]] = {}

    def row(self, labels: LabelValues) -> list[float]:
        """The row of ``labels`` (created empty): add to its ``CALLS``, ``SECONDS``, ... columns."""
        row = self.values.get(labels)
        if row is None:
            row = self.values[labels] = [0.0, 0.0, 0.0, 0.0, 0.0]
        return row

    def families(self) -> Iterator[Metric]:
        (calls_name, calls_doc), (seconds_name, seconds_doc), (tokens_name, tokens_doc) = self._names
        calls = CounterMetricFamily(calls_name, calls_doc, labels=self.labels)
        seconds = CounterMetricFamily(seconds_name, seconds_doc, labels=self.labels)
        tokens: dict[LabelValues, float] = {}
        for labels, row in self.values.items():
            calls.add_metric(list(labels), row[CALLS])
            seconds.add_metric(list(labels), row[SECONDS])
            for kind, column in _TOKEN_KINDS:
                if row[column] > 0:
                    token_labels = (*labels[:-1], kind)
                    tokens[token_labels] = tokens.get(token_labels, 0.0) + row[column]
        yield calls
        yield seconds
        family = CounterMetricFamily(tokens_name, tokens_doc, labels=[*self.labels[:-1], "kind"])
        for labels, value in tokens.items():
            family.add_metric(list(labels), value)
        yield family


def _bound(value: float) -> str:
    return repr(float(value))


class FastCollector:
    """Exposes a set of fast instruments to a ``CollectorRegistry``."""

    def __init__(self, instruments: Sequence[FastInstrument]) -> None:
        self._instruments = list(instruments)

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        for instrument in self._instruments:
            yield from instrument.families()
