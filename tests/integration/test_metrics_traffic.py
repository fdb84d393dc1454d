"""Metrics after scripted traffic against the fake upstream: read from the app's private
registry, and from ``GET /metrics``."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from gemini_proxy.observability.metrics import MAX_MODEL_LABELS, Metrics
from gemini_proxy.services import SERVICES
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy

MODEL = "gemini-2.5-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
K = [key_id(key) for key in KEYS]


def _metrics(proxy: RunningProxy) -> Metrics:
    metrics = proxy.app[SERVICES].metrics
    assert metrics is not None
    return metrics


def sample(proxy: RunningProxy, name: str, **labels: str) -> float:
    """A sample's value in the app's registry; 0 when the series does not exist."""
    value = _metrics(proxy).registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def _post(
    session: aiohttp.ClientSession, proxy: RunningProxy, path: str = GENERATE, **headers: str
) -> int:
    async with session.post(
        f"{proxy.url}{path}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN, **headers}
    ) as response:
        await response.read()
        return response.status


def _samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


class TestRequestMetrics:
    async def test_requests_and_durations_by_surface_model_status(self, proxy: RunningProxy) -> None:
        """Each request counts once under its surface, model and status, with its duration."""
        async with aiohttp.ClientSession() as session:
            assert [await _post(session, proxy) for _ in range(3)] == [200] * 3
            assert await _post(session, proxy, **{"x-goog-api-key": "wrong-token-0000"}) == 401
            async with session.get(f"{proxy.url}/healthz") as response:
                assert response.status == 200
        ok = {"surface": "gemini", "model": MODEL, "status": "200"}
        assert sample(proxy, "gemini_proxy_requests_total", **ok) == 3
        assert sample(proxy, "gemini_proxy_request_duration_seconds_count", **ok) == 3
        assert sample(proxy, "gemini_proxy_request_duration_seconds_sum", **ok) > 0
        assert sample(proxy, "gemini_proxy_requests_total", surface="gemini", model="", status="401") == 1
        assert sample(proxy, "gemini_proxy_requests_total", surface="ops", model="", status="200") == 1
        calls = sum(
            sample(proxy, "gemini_proxy_upstream_calls_total", key_id=k, model=MODEL, outcome="success")
            for k in K
        )
        assert calls == 3
        prompt = sum(
            sample(proxy, "gemini_proxy_tokens_total", key_id=k, model=MODEL, kind="prompt") for k in K
        )
        assert prompt > 0

    async def test_model_labels_are_capped(self, proxy: RunningProxy) -> None:
        """Client-chosen model names beyond the cap are counted as ``other``."""
        async with aiohttp.ClientSession() as session:
            for i in range(MAX_MODEL_LABELS + 6):
                assert await _post(session, proxy, f"/v1beta/models/made-up-{i}:generateContent") == 404
        text = generate_latest(_metrics(proxy).registry).decode()
        models = set(re.findall(r'gemini_proxy_requests_total\{model="([^"]*)"', text))
        assert len(models) == MAX_MODEL_LABELS + 1 and "other" in models
        assert (
            sample(proxy, "gemini_proxy_requests_total", surface="gemini", model="other", status="404") == 6
        )


class TestRateLimitStorm:
    async def test_storm_and_disabled_key(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Two keys answer 429, one is disabled: calls, retries, states, cooldowns and refusals add up."""
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE, retry_delay_s=60),
                    Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE, retry_delay_s=60),
                )
            )
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 4})
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{proxy.url}/admin/keys/{K[2]}/disable", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as response:
                assert response.status == 200
            assert [await _post(session, proxy) for _ in range(10)] == [200] * 10
            for k in K[:2]:
                assert (
                    sample(
                        proxy,
                        "gemini_proxy_upstream_calls_total",
                        key_id=k,
                        model=MODEL,
                        outcome="rate_limited",
                    )
                    == 1
                )
            assert (
                sample(
                    proxy, "gemini_proxy_upstream_calls_total", key_id=K[3], model=MODEL, outcome="success"
                )
                == 10
            )
            assert (
                sample(
                    proxy, "gemini_proxy_upstream_calls_total", key_id=K[2], model=MODEL, outcome="success"
                )
                == 0
            )
            assert (
                sample(
                    proxy,
                    "gemini_proxy_upstream_call_seconds_total",
                    key_id=K[3],
                    model=MODEL,
                    outcome="success",
                )
                > 0
            )
            assert sample(proxy, "gemini_proxy_retries_total", reason="per_minute_quota") == 2
            assert sample(proxy, "gemini_proxy_key_state", key_id=K[0], state="cooling") == 1
            assert sample(proxy, "gemini_proxy_key_state", key_id=K[0], state="active") == 0
            assert sample(proxy, "gemini_proxy_key_state", key_id=K[2], state="disabled") == 1
            assert sample(proxy, "gemini_proxy_key_state", key_id=K[3], state="active") == 1
            counts = {
                s: sample(proxy, "gemini_proxy_keys", state=s)
                for s in ("active", "cooling", "disabled", "open")
            }
            assert counts == {"active": 1, "cooling": 2, "disabled": 1, "open": 0}
            assert sample(proxy, "gemini_proxy_cooldowns_active", model=MODEL) == 2
            assert sample(proxy, "gemini_proxy_key_health", key_id=K[0]) < 1.0
            assert sample(proxy, "gemini_proxy_key_health", key_id=K[3]) == 1.0
            assert sample(proxy, "gemini_proxy_key_events_total", event="cooled") == 2
            assert sample(proxy, "gemini_proxy_key_events_total", event="disabled") == 1

            fake.state.set_rules([Rule(behavior=Behavior.RATE_MINUTE, retry_delay_s=60)])
            assert await _post(session, proxy) == 429
        assert sample(proxy, "gemini_proxy_requests_refused_total", model=MODEL, status="429") == 1
        assert sample(proxy, "gemini_proxy_requests_total", surface="gemini", model=MODEL, status="429") == 1
        assert sample(proxy, "gemini_proxy_cooldowns_active", model=MODEL) == 3

    async def test_every_key_rejected_is_refused_with_503(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """When every key is rejected the refusal is counted under 503, and the keys as disabled."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.INVALID_KEY),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 4})
        async with aiohttp.ClientSession() as session:
            assert await _post(session, proxy) == 503
            assert await _post(session, proxy) == 503
        assert sample(proxy, "gemini_proxy_requests_refused_total", model=MODEL, status="503") == 2
        assert sample(proxy, "gemini_proxy_keys", state="disabled") == 4
        assert (
            sample(
                proxy, "gemini_proxy_upstream_calls_total", key_id=K[0], model=MODEL, outcome="key_rejected"
            )
            == 1
        )


class TestScrape:
    async def test_scrape_matches_the_registry_and_holds_no_secret(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """``GET /metrics`` carries the registry's samples exactly; labels hold key ids, never keys."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with aiohttp.ClientSession() as session:
            for _ in range(5):
                await _post(session, proxy)
            async with session.get(f"{proxy.url}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
                text = await response.text()
        expected = generate_latest(_metrics(proxy).registry).decode()
        scraped = _samples(text)
        # The scrape itself is counted after it was rendered, and health drifts back toward 1
        # with time: compare those apart.
        moving = ("gemini_proxy_request", "gemini_proxy_key_health")
        settled = {s for s in scraped if not s[0].startswith(moving)}
        assert settled - _samples(expected) == set()
        health = {
            labels: value for name, labels, value in _samples(expected) if name == "gemini_proxy_key_health"
        }
        for name, labels, value in scraped:
            if name == "gemini_proxy_key_health":
                assert abs(health[labels] - value) < 0.01
        assert {s[0] for s in scraped} == {s[0] for s in _samples(expected)}
        assert all(name.startswith("gemini_proxy_") for name, _, _ in scraped)
        for secret in (*KEYS, CLIENT_TOKEN, ADMIN_TOKEN):
            assert secret not in text
        key_ids = {dict(labels)["key_id"] for _, labels, _ in scraped if "key_id" in dict(labels)}
        assert key_ids == set(K)

    async def test_large_scrape_is_gzipped_when_accepted(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A scrape of a pool of 500 keys is compressed for a client that accepts gzip."""
        fake = await fake_factory()
        keys = [{"key": f"AIzaSyMANY{i:030d}"} for i in range(500)]
        proxy = await proxy_factory(upstream={"base_url": fake.url}, keys=keys)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{proxy.url}/metrics", headers={"Accept-Encoding": "gzip"}) as response,
        ):
            assert response.headers["Content-Encoding"] == "gzip"
            text = await response.text()
        assert text.count('gemini_proxy_key_state{key_id="') == 500 * 5

    async def test_active_streams_gauge(self, proxy_factory: ProxyFactory, fake_factory: FakeFactory) -> None:
        """A stream in progress shows in the gauge, and leaves it when done."""
        fake = await fake_factory(FakeConfig(stream_chunks=4, chunk_delay_ms=150))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        path = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{proxy.url}{path}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response:
                await response.content.readline()
                assert sample(proxy, "gemini_proxy_active_streams") == 1
                await response.read()
            for _ in range(50):
                if sample(proxy, "gemini_proxy_active_streams") == 0:
                    break
                await asyncio.sleep(0.01)
        assert sample(proxy, "gemini_proxy_active_streams") == 0

    async def test_disabled_metrics_have_no_endpoint(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """With metrics.enabled false there is no /metrics and nothing is recorded."""
        fake = await fake_factory()
        proxy = await proxy_factory(upstream={"base_url": fake.url}, metrics={"enabled": False})
        async with aiohttp.ClientSession() as session:
            assert await _post(session, proxy) == 200
            async with session.get(f"{proxy.url}/metrics") as response:
                assert response.status == 404
        assert proxy.app[SERVICES].metrics is None


class TestStoreMetrics:
    async def test_switch_to_the_json_fallback(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, tmp_path: Path
    ) -> None:
        """SQLite unusable at start: the switch is counted and the backend gauge says json."""
        fake = await fake_factory()
        (tmp_path / "state.db").mkdir()  # a directory where the database file should be
        proxy = await proxy_factory(
            upstream={"base_url": fake.url}, state={"path": str(tmp_path / "state.db")}
        )
        assert (
            sample(proxy, "gemini_proxy_store_switches_total", from_backend="sqlite", to_backend="json") == 1
        )
        assert sample(proxy, "gemini_proxy_store_backend", backend="json") == 1
        assert sample(proxy, "gemini_proxy_store_backend", backend="sqlite") == 0

    async def test_flush_errors_are_counted(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, tmp_path: Path
    ) -> None:
        """When neither backend can be written, each failed flush counts as a store error."""
        fake = await fake_factory()
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the state folder should be")
        proxy = await proxy_factory(
            upstream={"base_url": fake.url},
            state={"path": str(blocker / "state.db"), "flush_interval_s": 0.02},
        )
        async with aiohttp.ClientSession() as session:
            assert await _post(session, proxy) == 200
            for _ in range(100):
                if sample(proxy, "gemini_proxy_store_errors_total", operation="flush") >= 1:
                    break
                await asyncio.sleep(0.02)
        assert sample(proxy, "gemini_proxy_store_errors_total", operation="flush") >= 1
        events = [e["event"] for e in proxy.log_events()]
        assert "state_flush_failed" in events


class TestExposition:
    def test_fresh_metrics_render_valid_text(self) -> None:
        """A fresh Metrics object renders text the Prometheus parser accepts."""
        families = {f.name for f in text_string_to_metric_families(Metrics().exposition().decode())}
        assert {
            "gemini_proxy_requests",
            "gemini_proxy_active_streams",
            "gemini_proxy_store_errors",
        } <= families
