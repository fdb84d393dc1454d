"""``POST /admin/reload``: the configuration file read again and applied to the running proxy,
with traffic going on; an invalid file changes nothing."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import aiohttp
import pytest

from gemini_proxy.app import create_app, start_server
from gemini_proxy.config import load_settings
from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from gemini_proxy.services import SERVICES
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory
from tests.contract.admin_client import AdminClient

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
NEW_CLIENT_TOKEN = "client-token-rotated-0001"
NEW_ADMIN_TOKEN = "admin-token-rotated-0001"


def write_config(
    path: Path,
    fake: RunningFake,
    keys: Sequence[tuple[str, str]],
    *,
    client_token: str = CLIENT_TOKEN,
    admin_token: str = ADMIN_TOKEN,
    extra: str = "",
) -> Path:
    """A configuration file with ``(key, name)`` pairs."""
    path.write_text(
        "auth:\n"
        f"  client_tokens: [{{name: tests, token: '{client_token}'}}]\n"
        f"  admin_token: '{admin_token}'\n"
        f"upstream: {{base_url: '{fake.url}', connect_timeout_s: 2, request_timeout_s: 10}}\n"
        "state: {path: null}\n"
        "keys:\n" + "".join(f"  - {{key: '{key}', name: {name}}}\n" for key, name in keys) + extra
    )
    return path


async def _traffic(
    session: aiohttp.ClientSession,
    url: str,
    stop: asyncio.Event,
    statuses: list[int],
    token: str = CLIENT_TOKEN,
) -> None:
    while not stop.is_set():
        async with session.post(f"{url}{GENERATE}", data=BODY, headers={"x-goog-api-key": token}) as response:
            await response.read()
            statuses.append(response.status)


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class TestReloadKeys:
    async def test_keys_added_removed_and_changed_under_traffic(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """With four clients sending requests throughout, two reloads swap keys and no request fails."""
        config = write_config(tmp_path / "proxy.yaml", fake, [(KEYS[0], "a"), (KEYS[1], "b"), (KEYS[2], "c")])
        proxy = await proxy_factory(load_settings(config, {}))
        admin = AdminClient(session, proxy.url)
        stop = asyncio.Event()
        statuses: list[int] = []
        clients = [asyncio.create_task(_traffic(session, proxy.url, stop, statuses)) for _ in range(4)]
        try:
            await _until(lambda: len(statuses) >= 40)
            write_config(config, fake, [(KEYS[1], "b-renamed"), (KEYS[2], "c"), (KEYS[3], "d")])
            status, result = await admin.post("/admin/reload")
            assert status == 200
            assert (result["added"], result["removed"], result["changed"]) == (
                [key_id(KEYS[3])],
                [key_id(KEYS[0])],
                [key_id(KEYS[1])],
            )
            assert result["restart_required"] == [] and result["keys"] == 3
            used_by_removed = fake.state.requests_by_key[KEYS[0]]
            await _until(lambda: fake.state.requests_by_key[KEYS[3]] >= 10)
            write_config(config, fake, [(KEYS[0], "a"), (KEYS[1], "b-renamed"), (KEYS[2], "c")])
            status, result = await admin.post("/admin/reload")
            assert (result["added"], result["removed"], result["changed"]) == (
                [key_id(KEYS[0])],
                [key_id(KEYS[3])],
                [],
            )
            await _until(lambda: fake.state.requests_by_key[KEYS[0]] >= used_by_removed + 10)
        finally:
            stop.set()
            await asyncio.gather(*clients)
        assert len(statuses) >= 100 and set(statuses) == {200}
        _, listing = await admin.get("/admin/keys")
        assert [(k["id"], k["name"]) for k in listing["keys"]] == [
            (key_id(KEYS[2]), "c"),
            (key_id(KEYS[1]), "b-renamed"),
            (key_id(KEYS[0]), "a"),
        ]

    async def test_state_of_kept_keys_survives(
        self,
        proxy_factory: ProxyFactory,
        fake_factory: FakeFactory,
        session: aiohttp.ClientSession,
        tmp_path: Path,
    ) -> None:
        """A changed key keeps its cooldown and counters; an unchanged one stays disabled;
        a key added through the admin API is not removed by a file that does not list it."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE),))
        )
        config = write_config(tmp_path / "proxy.yaml", fake, [(KEYS[0], "a"), (KEYS[1], "b"), (KEYS[2], "c")])
        proxy = await proxy_factory(load_settings(config, {}))
        admin = AdminClient(session, proxy.url)
        for _ in range(4):
            async with session.post(
                f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response:
                assert response.status == 200
        await admin.post(f"/admin/keys/{key_id(KEYS[1])}/disable", {"reason": "kept"})
        await admin.post("/admin/keys", {"key": KEYS[3], "name": "added"})
        _, before = await admin.get(f"/admin/keys/{key_id(KEYS[0])}")
        config.write_text(config.read_text().replace("name: a}", "name: a, weight: 3, limits: {rpm: 50}}"))
        status, result = await admin.post("/admin/reload")
        assert status == 200 and result["changed"] == [key_id(KEYS[0])] and result["removed"] == []
        _, after = await admin.get(f"/admin/keys/{key_id(KEYS[0])}")
        assert after["state"] == "cooling" and after["cooldowns"] == before["cooldowns"]
        assert after["counters"] == before["counters"] and after["weight"] == 3.0
        _, kept = await admin.get(f"/admin/keys/{key_id(KEYS[1])}")
        assert kept["state"] == "disabled" and kept["disabled"]["reason"] == "kept"
        _, added = await admin.get(f"/admin/keys/{key_id(KEYS[3])}")
        assert added["source"] == "admin"

    async def test_limit_usage_carries_over_a_change(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """A key at its rpm limit stays at it when its name and project change."""
        config = write_config(tmp_path / "proxy.yaml", fake, [(KEYS[0], "a")])
        config.write_text(config.read_text().replace("name: a}", "name: a, limits: {rpm: 2}}"))
        proxy = await proxy_factory(load_settings(config, {}))
        statuses = []
        for _ in range(3):
            async with session.post(
                f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response:
                statuses.append(response.status)
        assert statuses == [200, 200, 429]
        config.write_text(config.read_text().replace("name: a,", "name: renamed, project: p2,"))
        admin = AdminClient(session, proxy.url)
        status, result = await admin.post("/admin/reload")
        assert status == 200 and result["changed"] == [key_id(KEYS[0])]
        _, key = await admin.get(f"/admin/keys/{key_id(KEYS[0])}")
        assert (key["name"], key["project"]) == ("renamed", "p2")
        [usage] = key["usage"]
        assert (usage["rpm"], usage["requests_last_minute"]) == (2, 2) and usage["frees_at"] is not None
        async with session.post(
            f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
        ) as response:
            assert response.status == 429


class TestReloadSettings:
    async def test_tokens_change_at_once(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """New client and admin tokens work right after the reload; the old ones stop working,
        and the new values are redacted from the log."""
        config = write_config(tmp_path / "proxy.yaml", fake, [(KEYS[0], "a")])
        proxy = await proxy_factory(load_settings(config, {}))
        write_config(
            config, fake, [(KEYS[0], "a")], client_token=NEW_CLIENT_TOKEN, admin_token=NEW_ADMIN_TOKEN
        )
        status, result = await AdminClient(session, proxy.url).post("/admin/reload")
        assert status == 200 and result["restart_required"] == []
        for token, expected in ((CLIENT_TOKEN, 401), (NEW_CLIENT_TOKEN, 200)):
            async with session.post(
                f"{proxy.url}{GENERATE}", data=BODY, headers={"x-goog-api-key": token}
            ) as r:
                assert r.status == expected
        for token, expected in ((ADMIN_TOKEN, 401), (NEW_ADMIN_TOKEN, 200)):
            async with session.get(
                f"{proxy.url}/admin/pool", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                assert r.status == expected
        async with session.post(
            f"{proxy.url}/v1beta/models/{NEW_ADMIN_TOKEN}:generateContent", data=BODY
        ) as r:
            assert r.status == 401
        await proxy.runner.cleanup()
        assert NEW_ADMIN_TOKEN not in proxy.log.getvalue() and NEW_CLIENT_TOKEN not in proxy.log.getvalue()

    async def test_sections_read_at_start_are_reported(
        self, proxy_factory: ProxyFactory, fake: RunningFake, session: aiohttp.ClientSession, tmp_path: Path
    ) -> None:
        """Changes to sections consumed at start are named in restart_required; settings are replaced."""
        config = write_config(tmp_path / "proxy.yaml", fake, [(KEYS[0], "a")])
        proxy = await proxy_factory(load_settings(config, {}))
        write_config(
            config,
            fake,
            [(KEYS[0], "a")],
            extra="pool: {max_attempts: 5}\nmodels: {default: gemini-2.5-pro}\n",
        )
        status, result = await AdminClient(session, proxy.url).post("/admin/reload")
        assert status == 200 and result["restart_required"] == ["pool"]
        settings = proxy.app[SERVICES].settings
        assert settings.pool.max_attempts == 5 and settings.models.default == "gemini-2.5-pro"

    @pytest.mark.parametrize(
        ("content", "expected"),
        [
            ("keys: [\n  - {key: 'unterminated\n", "not valid YAML"),
            ("keys: [{key: short}]\n", "field keys.0.key"),
            (
                "keys: [{key: AIzaSyRELOAD0abcdefghijklmnopqrstuvwxyz}]\npool: {stratgy: fast}\n",
                "unknown field",
            ),
            ("keys: [{key: '${MISSING_RELOAD_KEY}'}]\n", "MISSING_RELOAD_KEY is not set"),
        ],
        ids=["yaml", "short-key", "unknown-field", "missing-env"],
    )
    async def test_invalid_file_changes_nothing(
        self,
        proxy_factory: ProxyFactory,
        fake: RunningFake,
        session: aiohttp.ClientSession,
        tmp_path: Path,
        content: str,
        expected: str,
    ) -> None:
        """An invalid file is refused with 400 and the ConfigError text; keys and settings stay."""
        config = write_config(tmp_path / "proxy.yaml", fake, [(KEYS[0], "a"), (KEYS[1], "b")])
        proxy = await proxy_factory(load_settings(config, {}))
        settings = proxy.app[SERVICES].settings
        config.write_text(config.read_text().split("keys:\n")[0] + content)
        admin = AdminClient(session, proxy.url)
        status, error = await admin.post("/admin/reload")
        assert status == 400 and error["error"]["code"] == "invalid_config"
        assert str(config) in error["error"]["message"] and expected in error["error"]["message"]
        assert proxy.app[SERVICES].settings is settings
        _, listing = await admin.get("/admin/keys")
        assert [k["id"] for k in listing["keys"]] == [key_id(KEYS[0]), key_id(KEYS[1])]


class TestReloadEnvironment:
    async def test_variables_expand_from_the_start_environment(
        self, fake: RunningFake, tmp_path: Path
    ) -> None:
        """``${VAR}`` in the file is expanded with the environment the app was created with."""
        environ = {"RELOAD_KEY_A": KEYS[0], "RELOAD_KEY_B": KEYS[1]}
        config = tmp_path / "proxy.yaml"
        write_config(config, fake, [("${RELOAD_KEY_A}", "a")])
        app = create_app(
            load_settings(config, environ), rng=random.Random(1), log_stream=io.StringIO(), environ=environ
        )
        runner, port = await start_server(app)
        try:
            write_config(config, fake, [("${RELOAD_KEY_A}", "a"), ("${RELOAD_KEY_B}", "b")])
            async with aiohttp.ClientSession() as session:
                status, result = await AdminClient(session, f"http://127.0.0.1:{port}").post("/admin/reload")
        finally:
            await runner.cleanup()
        assert status == 200 and result["added"] == [key_id(KEYS[1])]
