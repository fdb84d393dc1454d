"""Failover, one test per class of upstream failure: which keys were tried, what the client saw."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
BAD = KEYS[0]


async def _generate(proxy: RunningProxy, n: int, path: str = GENERATE) -> list[tuple[int, dict[str, object]]]:
    results = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            async with session.post(
                f"{proxy.url}{path}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response:
                results.append((response.status, orjson.loads(await response.read())))
    return results


def _access_events(proxy: RunningProxy) -> list[dict[str, object]]:
    return [e for e in proxy.log_events() if e.get("event") == "access"]


class TestFailoverPerClass:
    @pytest.mark.parametrize(
        ("behavior", "extra_requests_to_bad_key"),
        [
            (Behavior.RATE_MINUTE, 0),  # cooled for this model after its first 429
            (Behavior.INVALID_KEY, 0),  # disabled after its first rejection
            (Behavior.HANG_UP, None),  # connection error: breaker counts, may be tried again
            (Behavior.UNAVAILABLE, None),  # 503: transient
        ],
    )
    async def test_bad_key_fails_over(
        self,
        proxy_factory: ProxyFactory,
        fake_factory: FakeFactory,
        behavior: Behavior,
        extra_requests_to_bad_key: int | None,
    ) -> None:
        """Every client request succeeds; the failing key's attempt was retried on another key."""
        fake = await fake_factory(FakeConfig(rules=(Rule(key_prefix=BAD, behavior=behavior),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        results = await _generate(proxy, 8)
        assert [status for status, _ in results] == [200] * 8
        if extra_requests_to_bad_key is not None:
            assert fake.state.requests_by_key[BAD] == 1 + extra_requests_to_bad_key
        retried = [e for e in _access_events(proxy) if e["attempts"] == 2]
        assert retried, "some request must have been retried"
        for event in retried:
            tried = event["keys_tried"]
            assert isinstance(tried, list) and tried[0] == key_id(BAD) and tried[1] != key_id(BAD)

    async def test_timeout_fails_over(self, proxy_factory: ProxyFactory, fake_factory: FakeFactory) -> None:
        """A key slower than the request timeout is abandoned for the next key."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=BAD, behavior=Behavior.SLOW, delay_ms=2000),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url, "request_timeout_s": 0.3})
        results = await _generate(proxy, 4)
        assert [status for status, _ in results] == [200] * 4
        retried = [e for e in _access_events(proxy) if e["attempts"] == 2]
        assert retried, "the slow key's attempt must have been retried"
        assert all(e["keys_tried"][0] == key_id(BAD) for e in retried)  # type: ignore[index]
        assert all(e["attempts"] in (1, 2) for e in _access_events(proxy))

    async def test_stream_timeout_before_headers_fails_over(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A stream whose headers take longer than the request timeout goes to the next key;
        the client gets the whole stream."""
        fake = await fake_factory(
            FakeConfig(stream_chunks=3, rules=(Rule(key_prefix=BAD, behavior=Behavior.SLOW, delay_ms=2000),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url, "request_timeout_s": 0.3})
        async with aiohttp.ClientSession() as session:
            for _ in range(len(KEYS)):
                async with session.post(
                    f"{proxy.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                    data=BODY,
                    headers={"x-goog-api-key": CLIENT_TOKEN},
                ) as response:
                    assert response.status == 200
                    assert (await response.read()).count(b"data: ") == 3
        retried = [e for e in _access_events(proxy) if e["attempts"] == 2]
        assert retried, "the slow key's stream must have been retried"
        assert all(e["keys_tried"][0] == key_id(BAD) for e in retried)  # type: ignore[index]

    async def test_connection_refused_everywhere_is_502(self, proxy_factory: ProxyFactory) -> None:
        """With the upstream down, max_attempts keys are tried and the client gets 502."""
        proxy = await proxy_factory(upstream={"base_url": "http://127.0.0.1:9"}, pool={"max_attempts": 3})
        results = await _generate(proxy, 1)
        assert results[0][0] == 502
        assert _access_events(proxy)[-1]["attempts"] == 3

    async def test_client_error_is_not_retried(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A 400 bad request goes back to the client after one attempt, with no penalty."""
        fake = await fake_factory()
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{proxy.url}{GENERATE}", data=b"{not json", headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response,
        ):
            assert response.status == 400
            assert (await response.json())["error"]["status"] == "INVALID_ARGUMENT"
        assert sum(fake.state.requests_by_key.values()) == 1

    async def test_every_key_rate_limited_gives_429_with_retry_after(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """All keys 429: the client gets 429 RESOURCE_EXHAUSTED with a Retry-After header."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.RATE_MINUTE, retry_delay_s=42),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 4})
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response,
        ):
            assert response.status == 429
            assert 1 <= int(response.headers["Retry-After"]) <= 43
            assert (await response.json())["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert sum(fake.state.requests_by_key.values()) == 4

    async def test_every_key_invalid_gives_503(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """All keys rejected: 503, and the keys get no more traffic."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.INVALID_KEY),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 4})
        results = await _generate(proxy, 3)
        assert [status for status, _ in results] == [503, 503, 503]
        assert sum(fake.state.requests_by_key.values()) == 4


class TestFirstContactWithBadKeys:
    async def test_rate_limited_and_rejected_keys_do_not_use_up_attempts(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Three bad keys before the good one, max_attempts 2: the very first request still succeeds."""
        keys = [f"AIzaSyBAD{i}abcdefghijklmnopqrstuvwxyz0{i}" for i in range(3)] + [KEYS[3]]
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=keys[0], behavior=Behavior.RATE_MINUTE),
                    Rule(key_prefix=keys[1], behavior=Behavior.INVALID_KEY),
                    Rule(key_prefix=keys[2], behavior=Behavior.RATE_DAY),
                )
            )
        )
        proxy = await proxy_factory(
            upstream={"base_url": fake.url},
            keys=[{"key": key} for key in keys],
            pool={"max_attempts": 2},
        )
        results = await _generate(proxy, 6)
        assert [status for status, _ in results] == [200] * 6
        assert sum(fake.state.requests_by_key[key] for key in keys[:3]) == 3

    async def test_transient_failures_still_stop_at_max_attempts(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Transient failures are bounded by max_attempts: 2 tries, then the upstream's 500."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.SERVER_ERROR),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 2})
        results = await _generate(proxy, 1)
        assert results[0][0] == 500
        assert sum(fake.state.requests_by_key.values()) == 2
