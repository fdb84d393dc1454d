"""The pool gauges, computed at scrape time: the directly written text of ``/metrics`` says
exactly what the registry's collector says, for a pool of hundreds of keys in every state."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gemini_proxy.app import create_app, start_server
from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.services import SERVICES
from tests.conftest import make_settings

SIZE = 300
T0 = 1_748_865_600.0
COOL = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=600.0)
FAIL = Outcome(OutcomeKind.TRANSIENT, "http_500")


class FixedClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _shape(pool: KeyPool) -> None:
    """Some keys disabled, some cooling on one of two models, some with an open breaker."""
    ids = [view.key_id for view in pool.views()]
    for key_id in ids[::7]:
        pool.disable(key_id, "test")
    for model in ("gemini-2.5-flash", 'odd "model"\\name'):
        for _ in range(SIZE // 6):
            pool.release(pool.acquire(model), COOL, latency_s=0.1)
    everyone = set(ids)
    enabled = [key_id for index, key_id in enumerate(ids) if index % 7]
    for target in enabled[:10]:  # two failures each: the breaker opens
        others = everyone - {target}
        for _ in range(2):
            pool.release(pool.acquire("gemini-2.5-pro", exclude=others), FAIL, latency_s=0.1)


@pytest.fixture
async def shaped() -> AsyncIterator[tuple[str, aiohttp.ClientSession, object]]:
    keys = [{"key": f"AIzaSyPOOL{i:030d}"} for i in range(SIZE)]
    app = create_app(
        make_settings(keys=keys, pool={"failure_threshold": 2}, logging={"access_log": False}),
        clock=FixedClock(),
        rng=random.Random(3),
    )
    runner, port = await start_server(app)
    _shape(app[SERVICES].pool)
    async with aiohttp.ClientSession() as session:
        yield f"http://127.0.0.1:{port}", session, app
    await runner.cleanup()


class TestPoolGauges:
    async def test_written_text_equals_the_collector(
        self, shaped: tuple[str, aiohttp.ClientSession, object]
    ) -> None:
        """Every pool sample in the scrape equals the registry's, and no sample is missing."""
        url, session, app = shaped
        metrics = app[SERVICES].metrics  # type: ignore[index]
        async with session.get(f"{url}/metrics") as response:
            scraped = _samples(await response.text())
        expected = _samples(generate_latest(metrics.registry).decode())
        pool_names = ("gemini_proxy_key", "gemini_proxy_cooldowns_active")
        assert {s for s in scraped if s[0].startswith(pool_names)} == {
            s for s in expected if s[0].startswith(pool_names)
        }

    async def test_gauges_agree_with_the_admin_view(
        self, shaped: tuple[str, aiohttp.ClientSession, object]
    ) -> None:
        """State counts, one state per key, and cooling per model match the pool's own views."""
        url, session, app = shaped
        pool: KeyPool = app[SERVICES].pool  # type: ignore[index]
        async with session.get(f"{url}/metrics") as response:
            scraped = _samples(await response.text())
        views = pool.views()
        by_state = Counter(view.status.value for view in views)
        keys = {
            dict(labels)["state"]: value for name, labels, value in scraped if name == "gemini_proxy_keys"
        }
        assert keys == {state: float(by_state[state]) for state in keys}
        assert (
            sum(keys.values()) == SIZE and keys["disabled"] > 0 and keys["cooling"] > 0 and keys["open"] > 0
        )
        current = {
            dict(labels)["key_id"]: dict(labels)["state"]
            for name, labels, value in scraped
            if name == "gemini_proxy_key_state" and value == 1.0
        }
        assert current == {view.key_id: view.status.value for view in views}
        states = [s for s in scraped if s[0] == "gemini_proxy_key_state"]
        assert len(states) == SIZE * 5
        cooling = {
            dict(labels)["model"]: value
            for name, labels, value in scraped
            if name == "gemini_proxy_cooldowns_active"
        }
        assert cooling == {"gemini-2.5-flash": SIZE // 6, 'odd "model"\\name': SIZE // 6}
