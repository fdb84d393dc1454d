"""The pool's gauges, computed when scraped: key states, health, and cooldowns per model.

Nothing here is updated per request; every scrape reads the pool. The same numbers come
out two ways: ``collect()`` yields metric families for a prometheus_client registry
(tests, other exporters), and ``render()`` writes the same families as exposition text
directly. prometheus_client spends a few microseconds formatting each sample, which for
10,000 keys (six samples each) blocks the event loop for a quarter of a second per
scrape; ``render`` takes a few milliseconds. A test pins the two to the same samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.keys.views import KeyStatus

STATES: tuple[KeyStatus, ...] = tuple(KeyStatus)
# prometheus_client's own float formatting (untyped there), so both outputs agree.
_number = cast(Callable[[float], str], floatToGoString)

KEYS = "gemini_proxy_keys"
KEY_STATE = "gemini_proxy_key_state"
KEY_HEALTH = "gemini_proxy_key_health"
COOLDOWNS = "gemini_proxy_cooldowns_active"

_HELP = {
    KEYS: "Keys in the pool, by state.",
    KEY_STATE: "1 for the state each key is in now, 0 for the other states.",
    KEY_HEALTH: "Health score of each key, from 0 to 1.",
    COOLDOWNS: "Keys cooling down (rate limited) now, by model.",
}


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


@dataclass(frozen=True, slots=True)
class PoolReading:
    """One scrape's worth of numbers read from the pool."""

    keys: list[tuple[str, KeyStatus, float]]
    by_state: dict[KeyStatus, int]
    cooling: dict[str, int]


class PoolCollector:
    """A prometheus_client collector over a ``KeyPool`` (see the module docstring)."""

    def __init__(self, pool: KeyPool) -> None:
        self._pool = pool

    def read(self) -> PoolReading:
        keys = self._pool.key_statuses()
        by_state = dict.fromkeys(STATES, 0)
        for _, status, _ in keys:
            by_state[status] += 1
        return PoolReading(keys, by_state, self._pool.cooling_counts())

    def describe(self) -> list[Metric]:
        """Nothing to describe ahead of a scrape (keeps ``register`` from collecting)."""
        return []

    def collect(self) -> Iterator[Metric]:
        reading = self.read()
        counts = GaugeMetricFamily(KEYS, _HELP[KEYS], labels=["state"])
        for status in STATES:
            counts.add_metric([status.value], reading.by_state[status])
        yield counts
        state = GaugeMetricFamily(KEY_STATE, _HELP[KEY_STATE], labels=["key_id", "state"])
        health = GaugeMetricFamily(KEY_HEALTH, _HELP[KEY_HEALTH], labels=["key_id"])
        for key_id, current, score in reading.keys:
            for status in STATES:
                state.add_metric([key_id, status.value], 1.0 if status is current else 0.0)
            health.add_metric([key_id], score)
        yield state
        yield health
        cooling = GaugeMetricFamily(COOLDOWNS, _HELP[COOLDOWNS], labels=["model"])
        for model, count in sorted(reading.cooling.items()):
            cooling.add_metric([model], count)
        yield cooling

    def render(self) -> str:
        """The families of ``collect`` as Prometheus text exposition (format 0.0.4)."""
        reading = self.read()
        lines = [_header(KEYS)]
        lines += [
            f'{KEYS}{{state="{status.value}"}} {_number(reading.by_state[status])}' for status in STATES
        ]
        lines.append(_header(KEY_STATE))
        prefixes = [(status, f'",state="{status.value}"}} ') for status in STATES]
        for key_id, current, _ in reading.keys:
            head = f'{KEY_STATE}{{key_id="{key_id}'
            lines += [f"{head}{tail}{'1.0' if status is current else '0.0'}" for status, tail in prefixes]
        lines.append(_header(KEY_HEALTH))
        lines += [f'{KEY_HEALTH}{{key_id="{key_id}"}} {_number(score)}' for key_id, _, score in reading.keys]
        lines.append(_header(COOLDOWNS))
        lines += [
            f'{COOLDOWNS}{{model="{_escape(model)}"}} {_number(count)}'
            for model, count in sorted(reading.cooling.items())
        ]
        lines.append("")
        return "\n".join(lines)


def _header(name: str) -> str:
    return f"# HELP {name} {_HELP[name]}\n# TYPE {name} gauge"
