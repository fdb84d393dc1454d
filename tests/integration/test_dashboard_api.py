"""The admin API as the dashboard uses it: the per-minute timeline behind its charts, and no
raw key in any answer the page reads or writes. Every answer is checked against the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy
from tests.contract.admin_client import AdminClient

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
ADDED = "AIzaSyDASHBOARD0abcdefghijklmnopqrstuvw"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _scripted(
    proxy_factory: ProxyFactory, fake_factory: FakeFactory
) -> tuple[RunningProxy, RunningFake]:
    """A proxy whose first key is rate limited and second key invalid."""
    fake = await fake_factory(
        FakeConfig(
            rules=(
                Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE, retry_delay_s=120),
                Rule(key_prefix=KEYS[1], behavior=Behavior.INVALID_KEY),
            )
        )
    )
    return await proxy_factory(upstream={"base_url": fake.url}), fake


async def _traffic(session: aiohttp.ClientSession, proxy: RunningProxy, n: int) -> None:
    for _ in range(n):
        async with session.post(
            f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
        ) as response:
            await response.read()
            assert response.status == 200


def _totals(timeline: dict[str, object]) -> tuple[int, int, int]:
    buckets = timeline["buckets"]
    assert isinstance(buckets, list)
    return (
        sum(b["requests"] for b in buckets),
        sum(b["errors"] for b in buckets),
        sum(b["rate_limited"] for b in buckets),
    )


class TestTimeline:
    async def test_pool_timeline_counts_every_upstream_call(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """Each call the upstream saw is in the last hour: the 429 as rate limited, the rejection as an error."""
        proxy, fake = await _scripted(proxy_factory, fake_factory)
        await _traffic(session, proxy, 6)
        status, timeline = await AdminClient(session, proxy.url).get("/admin/timeline")
        assert status == 200 and timeline["id"] is None and len(timeline["buckets"]) == 60
        assert _totals(timeline) == (sum(fake.state.requests_by_key.values()), 1, 1)
        assert timeline["requests_per_s"] > 0
        assert 0 < timeline["error_ratio"] < 1

    async def test_key_timeline_holds_only_that_keys_calls(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """A key's timeline counts its own calls; an unknown key is 404."""
        proxy, fake = await _scripted(proxy_factory, fake_factory)
        await _traffic(session, proxy, 6)
        admin = AdminClient(session, proxy.url)
        status, limited = await admin.get(f"/admin/keys/{key_id(KEYS[0])}/timeline")
        assert status == 200 and limited["id"] == key_id(KEYS[0])
        assert _totals(limited) == (1, 0, 1)
        _, healthy = await admin.get(f"/admin/keys/{key_id(KEYS[2])}/timeline")
        assert _totals(healthy) == (fake.state.requests_by_key[KEYS[2]], 0, 0)
        assert healthy["error_ratio"] == 0
        status, error = await admin.get("/admin/keys/000000000000/timeline")
        assert status == 404 and error["error"]["code"] == "key_not_found"

    async def test_timeline_needs_the_admin_token(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """Without the token the timeline is 401 like the rest of the admin API."""
        for path in ("/admin/timeline", f"/admin/keys/{key_id(KEYS[0])}/timeline"):
            async with session.get(f"{proxy.url}{path}") as response:
                assert response.status == 401


class TestNoRawKeyInWhatThePageReads:
    async def test_every_answer_the_dashboard_uses(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """Pool, keys, key, errors, timelines, add, actions, probes: no answer holds a raw key."""
        proxy, _ = await _scripted(proxy_factory, fake_factory)
        await _traffic(session, proxy, 6)
        admin = AdminClient(session, proxy.url)
        added = key_id(ADDED)
        calls: list[tuple[str, str, object]] = [
            ("POST", "/admin/keys", {"keys": [{"key": ADDED, "name": "pasted"}]}),
            ("POST", "/admin/keys", {"keys": [ADDED]}),  # 409: the refusal must not echo it either
            ("GET", "/admin/pool", None),
            ("GET", "/admin/keys", None),
            ("GET", "/admin/timeline", None),
        ]
        for secret in (*KEYS, ADDED):
            kid = key_id(secret)
            calls += [
                ("GET", f"/admin/keys/{kid}", None),
                ("GET", f"/admin/keys/{kid}/errors", None),
                ("GET", f"/admin/keys/{kid}/timeline", None),
                ("POST", f"/admin/keys/{kid}/probe", None),
            ]
        calls += [
            ("POST", f"/admin/keys/{added}/disable", {"reason": "dashboard"}),
            ("POST", f"/admin/keys/{added}/enable", None),
            ("POST", f"/admin/keys/{added}/reset", None),
            ("POST", "/admin/reload", None),  # 409 without a file
            ("DELETE", f"/admin/keys/{added}", None),
        ]
        statuses = []
        for method, path, body in calls:
            status, answer = await admin.call(method, path, body)
            statuses.append(status)
            text = repr(answer)
            assert not [secret for secret in (*KEYS, ADDED) if secret in text], (method, path)
        assert statuses[:2] == [201, 409] and statuses[-2:] == [409, 200]
