"""The admin API on a real socket in front of the fake upstream; every response is also
checked against ``contracts/admin-api.yaml`` by the ``AdminClient``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from gemini_proxy.services import SERVICES
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy
from tests.contract.admin_client import AdminClient

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
NEW_KEYS = [f"AIzaSyADDED{i:02d}abcdefghijklmnopqrstuvw{i:02d}" for i in range(1, 5)]


async def _traffic(session: aiohttp.ClientSession, proxy: RunningProxy, n: int) -> list[int]:
    statuses = []
    for _ in range(n):
        async with session.post(
            f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
        ) as response:
            await response.read()
            statuses.append(response.status)
    return statuses


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _admin(session: aiohttp.ClientSession, proxy: RunningProxy) -> AdminClient:
    return AdminClient(session, proxy.url)


def _by_id(keys: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {key["id"]: key for key in keys}


class TestPoolOverview:
    async def test_counts_models_and_recovery(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """After a 429 on one key and a rejection of another, the overview counts and times them."""
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE, retry_delay_s=120),
                    Rule(key_prefix=KEYS[1], behavior=Behavior.INVALID_KEY),
                )
            )
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        assert await _traffic(session, proxy, 6) == [200] * 6
        status, pool = await (await _admin(session, proxy)).get("/admin/pool")
        assert status == 200
        assert pool["keys"] == {
            "total": 4,
            "active": 2,
            "cooling": 1,
            "open": 0,
            "half_open": 0,
            "disabled": 1,
        }
        assert pool["usable"] is True
        flash = next(m for m in pool["models"] if m["model"] == "gemini-2.5-flash")
        assert flash["available"] == 2 and flash["cooling"] == 1
        assert pool["earliest_recovery"] is not None
        assert pool["store"] == {"name": "memory", "backend": "memory"}


class TestKeyList:
    async def test_keys_are_masked_and_described(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """Every configured key is listed by id and masked form, never raw."""
        admin = await _admin(session, proxy)
        status, listing = await admin.get("/admin/keys")
        assert status == 200 and listing["total"] == 4
        assert [k["id"] for k in listing["keys"]] == [key_id(k) for k in KEYS]
        assert all(k["masked"].startswith("AIza...") and k["source"] == "config" for k in listing["keys"])
        async with session.get(
            f"{proxy.url}/admin/keys", headers={"Authorization": "Bearer admin-token-9876543210"}
        ) as response:
            text = await response.text()
        assert not any(secret in text for secret in KEYS)

    async def test_state_filter_and_paging(self, proxy: RunningProxy, session: aiohttp.ClientSession) -> None:
        """``state`` keeps the keys in that state; ``offset``/``limit`` page; a bad state is 400."""
        admin = await _admin(session, proxy)
        await admin.post(f"/admin/keys/{key_id(KEYS[2])}/disable")
        status, disabled = await admin.get("/admin/keys?state=disabled")
        assert status == 200 and [k["id"] for k in disabled["keys"]] == [key_id(KEYS[2])]
        status, page = await admin.get("/admin/keys?offset=1&limit=2")
        assert page["total"] == 4 and [k["id"] for k in page["keys"]] == [key_id(k) for k in KEYS[1:3]]
        status, error = await admin.get("/admin/keys?state=sleeping")
        assert status == 400 and error["error"]["code"] == "invalid_request"
        status, error = await admin.get("/admin/keys?limit=0")
        assert status == 400

    async def test_cooling_key_shows_cooldown_and_last_error(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """A rate-limited key shows the model, the until-time, the reason and its counters."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        await _traffic(session, proxy, 2)
        status, key = await (await _admin(session, proxy)).get(f"/admin/keys/{key_id(KEYS[0])}")
        assert status == 200 and key["state"] == "cooling"
        [cooldown] = key["cooldowns"]
        assert cooldown["model"] == "gemini-2.5-flash" and cooldown["per_day"] is False
        assert key["last_error"]["reason"] == cooldown["reason"]
        assert key["counters"]["requests"] == 1 and key["counters"]["outcomes"]["rate_limited"] == 1
        assert key["health"] < 1.0

    async def test_unknown_key_is_404(self, proxy: RunningProxy, session: aiohttp.ClientSession) -> None:
        """Every per-key route answers 404 key_not_found for an id not in the pool."""
        admin = await _admin(session, proxy)
        for method, path in [
            ("GET", "/admin/keys/000000000000"),
            ("DELETE", "/admin/keys/000000000000"),
            ("GET", "/admin/keys/000000000000/errors"),
            ("POST", "/admin/keys/000000000000/enable"),
            ("POST", "/admin/keys/000000000000/disable"),
            ("POST", "/admin/keys/000000000000/reset"),
            ("POST", "/admin/keys/000000000000/probe"),
        ]:
            status, error = await admin.call(method, path)
            assert status == 404 and error["error"]["code"] == "key_not_found", (method, path)

    async def test_raw_key_in_the_path_is_not_echoed(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """A raw key pasted where an id belongs is 404, and the answer does not repeat it."""
        status, error = await (await _admin(session, proxy)).get(f"/admin/keys/{KEYS[0]}")
        assert status == 404 and error["error"]["code"] == "key_not_found"
        assert KEYS[0] not in error["error"]["message"]


class TestAddAndRemove:
    async def test_added_key_serves_and_survives_a_restart(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """An added key is used for traffic, shown masked, and restored from the store at start."""
        state = {"path": str(tmp_path / "state.db"), "flush_interval_s": 0.05}
        proxy = await proxy_factory(upstream={"base_url": fake.url}, state=state)
        admin = await _admin(session, proxy)
        status, body = await admin.post(
            "/admin/keys", {"key": NEW_KEYS[0], "name": "extra", "project": "p1", "limits": {"rpm": 100}}
        )
        assert status == 201
        [added] = body["added"]
        assert added["id"] == key_id(NEW_KEYS[0]) and added["source"] == "admin" and added["name"] == "extra"
        assert added["masked"] == "AIza...vw01" and added["added_at"] is not None
        assert await _traffic(session, proxy, 5) == [200] * 5
        assert fake.state.requests_by_key[NEW_KEYS[0]] >= 1
        await proxy.runner.cleanup()
        again = await proxy_factory(upstream={"base_url": fake.url}, state=state)
        status, key = await (await _admin(session, again)).get(f"/admin/keys/{key_id(NEW_KEYS[0])}")
        assert status == 200 and key["source"] == "admin" and key["project"] == "p1"

    async def test_batch_add_and_duplicates(
        self, proxy: RunningProxy, session: aiohttp.ClientSession
    ) -> None:
        """A batch adds every key; a duplicate (in the pool or in the batch) refuses the whole batch."""
        admin = await _admin(session, proxy)
        status, body = await admin.post(
            "/admin/keys", {"keys": [NEW_KEYS[0], {"key": NEW_KEYS[1], "weight": 2}]}
        )
        assert status == 201 and [k["id"] for k in body["added"]] == [key_id(k) for k in NEW_KEYS[:2]]
        status, error = await admin.post("/admin/keys", {"keys": [NEW_KEYS[2], NEW_KEYS[0]]})
        assert status == 409 and error["error"]["code"] == "key_exists"
        status, error = await admin.post("/admin/keys", {"keys": [NEW_KEYS[3], NEW_KEYS[3]]})
        assert status == 409
        status, error = await admin.post("/admin/keys", {"key": KEYS[0]})
        assert status == 409
        _, listing = await admin.get("/admin/keys")
        assert listing["total"] == 6

    @pytest.mark.parametrize(
        "body",
        [
            {"key": "short"},
            {"key": "has a space inside it"},
            {"key": "AIzaSyNONASCII-\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"},
            {"key": NEW_KEYS[0], "weight": "2"},
            {"key": NEW_KEYS[0], "unknown": 1},
            {"keys": []},
            {"keys": [17]},
            ["not", "an", "object"],
        ],
    )
    async def test_invalid_body_is_400_without_echo(
        self, proxy: RunningProxy, session: aiohttp.ClientSession, body: Any
    ) -> None:
        """A malformed key or body is refused with 400, and the message never repeats the value."""
        status, error = await (await _admin(session, proxy)).post("/admin/keys", body)
        assert status == 400 and error["error"]["code"] == "invalid_request"
        assert NEW_KEYS[0] not in error["error"]["message"]
        assert "has a space" not in error["error"]["message"]

    async def test_not_json_is_400(self, proxy: RunningProxy, session: aiohttp.ClientSession) -> None:
        """A body that is not JSON is refused with 400."""
        status, error = await (await _admin(session, proxy)).call("POST", "/admin/keys", raw=b"{nope")
        assert status == 400 and error["error"]["code"] == "invalid_request"

    async def test_delete_removes_from_pool_and_store(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """A deleted key gets no more traffic and does not come back at the next start."""
        state = {"path": str(tmp_path / "state.db"), "flush_interval_s": 0.05}
        proxy = await proxy_factory(upstream={"base_url": fake.url}, state=state)
        admin = await _admin(session, proxy)
        await admin.post("/admin/keys", {"key": NEW_KEYS[0]})
        status, body = await admin.delete(f"/admin/keys/{key_id(NEW_KEYS[0])}")
        assert status == 200 and body == {"id": key_id(NEW_KEYS[0]), "removed": True}
        status, _ = await admin.delete(f"/admin/keys/{key_id(KEYS[3])}")
        assert status == 200
        await _traffic(session, proxy, 6)
        assert fake.state.requests_by_key[NEW_KEYS[0]] == 0 and fake.state.requests_by_key[KEYS[3]] == 0
        await proxy.runner.cleanup()
        again = await proxy_factory(upstream={"base_url": fake.url}, state=state)
        _, listing = await (await _admin(session, again)).get("/admin/keys")
        ids = [k["id"] for k in listing["keys"]]
        assert key_id(NEW_KEYS[0]) not in ids and key_id(KEYS[3]) in ids  # configured keys come back

    async def test_unpersistable_changes_are_refused(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """When no store backend can be written, add and delete answer 503 and change nothing."""
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the state folder should be")
        proxy = await proxy_factory(
            upstream={"base_url": fake.url}, state={"path": str(blocker / "state.db")}
        )
        admin = await _admin(session, proxy)
        status, error = await admin.post("/admin/keys", {"keys": [NEW_KEYS[0], NEW_KEYS[1]]})
        assert status == 503 and error["error"]["code"] == "store_unavailable"
        status, error = await admin.delete(f"/admin/keys/{key_id(KEYS[0])}")
        assert status == 503
        _, listing = await admin.get("/admin/keys")
        assert [k["id"] for k in listing["keys"]] == [key_id(k) for k in KEYS]
        registry = proxy.app[SERVICES].metrics.registry  # type: ignore[union-attr]
        assert registry.get_sample_value("gemini_proxy_store_errors_total", {"operation": "add_key"}) == 1
        assert registry.get_sample_value("gemini_proxy_store_errors_total", {"operation": "remove_key"}) == 1


class TestKeyActions:
    async def test_disable_enable_reset(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """Disable takes a key out of traffic with the given reason; enable and reset bring keys back."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        admin = await _admin(session, proxy)
        status, key = await admin.post(f"/admin/keys/{key_id(KEYS[0])}/disable", {"reason": "rotating"})
        assert status == 200 and key["state"] == "disabled"
        assert key["disabled"]["reason"] == "rotating" and key["disabled"]["next_probe_at"] is None
        await _traffic(session, proxy, 6)
        assert fake.state.requests_by_key[KEYS[0]] == 0
        status, key = await admin.post(f"/admin/keys/{key_id(KEYS[0])}/enable")
        assert key["state"] == "active" and key["disabled"] is None
        _, cooling = await admin.get(f"/admin/keys/{key_id(KEYS[1])}")
        assert cooling["state"] == "cooling"
        status, key = await admin.post(f"/admin/keys/{key_id(KEYS[1])}/reset")
        assert key["state"] == "active" and key["cooldowns"] == [] and key["counters"]["requests"] == 1

    async def test_probe_of_a_rejected_key_disables_it(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """Probing a key the upstream rejects says invalid, disables it and records the error."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[2], behavior=Behavior.INVALID_KEY),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        admin = await _admin(session, proxy)
        status, result = await admin.post(f"/admin/keys/{key_id(KEYS[2])}/probe")
        assert status == 200
        assert (result["result"], result["outcome"], result["state"]) == (
            "invalid",
            "key_rejected",
            "disabled",
        )
        _, errors = await admin.get(f"/admin/keys/{key_id(KEYS[2])}/errors")
        assert [(e["source"], e["reason"]) for e in errors["errors"]] == [("probe", result["reason"])]
        _, key = await admin.get(f"/admin/keys/{key_id(KEYS[2])}")
        assert key["disabled"]["next_probe_at"] is not None  # re-tested on the probe schedule

    async def test_probe_all_uses_no_generation_quota(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """One result per key (valid, invalid, quota exhausted, unreachable), all by models GETs."""
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=KEYS[0], behavior=Behavior.INVALID_KEY),
                    Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE),
                    Rule(key_prefix=KEYS[2], behavior=Behavior.SERVER_ERROR),
                )
            )
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        status, body = await (await _admin(session, proxy)).post("/admin/probe")
        assert status == 200
        assert [r["result"] for r in body["results"]] == [
            "invalid",
            "quota_exhausted",
            "unreachable",
            "valid",
        ]
        assert body["summary"] == {
            "valid": 1,
            "invalid": 1,
            "quota_exhausted": 1,
            "unreachable": 1,
            "error": 0,
        }
        assert set(fake.state.requests_by_method) == {"models.get"}


class TestKeyErrors:
    async def test_recent_errors_are_bounded_and_newest_first(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, session: aiohttp.ClientSession
    ) -> None:
        """Failed upstream calls of a key are kept, newest first, at most 20."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.SERVER_ERROR),))
        )
        proxy = await proxy_factory(
            upstream={"base_url": fake.url}, pool={"failure_threshold": 100, "min_health": 0.0}
        )
        assert await _traffic(session, proxy, 100) == [200] * 100
        status, body = await (await _admin(session, proxy)).get(f"/admin/keys/{key_id(KEYS[0])}/errors")
        assert status == 200 and fake.state.requests_by_key[KEYS[0]] > 20
        errors = body["errors"]
        assert len(errors) == 20
        assert {(e["source"], e["kind"], e["model"]) for e in errors} == {
            ("request", "transient", "gemini-2.5-flash")
        }
        times = [e["at"] for e in errors]
        assert times == sorted(times, reverse=True)
        _, clean = await (await _admin(session, proxy)).get(f"/admin/keys/{key_id(KEYS[1])}/errors")
        assert clean["errors"] == []
