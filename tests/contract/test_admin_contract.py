"""Every admin operation, answered by the real app, fits ``contracts/admin-api.yaml``; and no
operation answers anything but 401 without the admin token."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from gemini_proxy.config import load_settings
from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy
from tests.contract.admin_client import AdminClient
from tests.contract.openapi import admin_contract

NEW_KEY = "AIzaSyCONTRACT0abcdefghijklmnopqrstuvwx"


def _concrete(template: str) -> str:
    return template.replace("{key_id}", key_id(KEYS[0]))


async def _config_file(tmp_path: Path, fake: RunningFake, keys: list[str]) -> Path:
    path = tmp_path / "proxy.yaml"
    path.write_text(
        "auth:\n"
        f"  client_tokens: [{{name: tests, token: {CLIENT_TOKEN}}}]\n"
        f"  admin_token: {ADMIN_TOKEN}\n"
        f"upstream: {{base_url: '{fake.url}'}}\n"
        "state: {path: state.db, flush_interval_s: 0.05}\n"
        "keys:\n" + "".join(f"  - {{key: {key}}}\n" for key in keys)
    )
    return path


class TestAdminResponsesFitTheContract:
    async def test_every_operation_and_its_errors(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, tmp_path: Path
    ) -> None:
        """A scripted session calls every operation (successes and errors); each answer fits."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE),))
        )
        config = await _config_file(tmp_path, fake, KEYS)
        proxy = await proxy_factory(load_settings(config, {}))
        async with aiohttp.ClientSession() as session:
            for _ in range(4):
                async with session.post(
                    f"{proxy.url}/v1beta/models/gemini-2.5-flash:generateContent",
                    data=b'{"contents": [{"parts": [{"text": "hi"}]}]}',
                    headers={"x-goog-api-key": CLIENT_TOKEN},
                ) as response:
                    assert response.status == 200
            admin = AdminClient(session, proxy.url)
            first, cooling = key_id(KEYS[0]), key_id(KEYS[1])
            script: list[tuple[str, str, object, int]] = [
                ("GET", "/admin/pool", None, 200),
                ("GET", "/admin/keys", None, 200),
                ("GET", "/admin/keys?state=cooling&limit=5", None, 200),
                ("GET", "/admin/keys?state=nope", None, 400),
                ("POST", "/admin/keys", {"key": NEW_KEY, "name": "n", "limits": {"rpm": 5}}, 201),
                ("POST", "/admin/keys", {"keys": [NEW_KEY]}, 409),
                ("POST", "/admin/keys", {"key": 5}, 400),
                ("GET", f"/admin/keys/{cooling}", None, 200),
                ("GET", "/admin/keys/ffffffffffff", None, 404),
                ("GET", f"/admin/keys/{cooling}/errors", None, 200),
                ("GET", "/admin/keys/ffffffffffff/errors", None, 404),
                ("GET", "/admin/timeline", None, 200),
                ("GET", f"/admin/keys/{cooling}/timeline", None, 200),
                ("GET", "/admin/keys/ffffffffffff/timeline", None, 404),
                ("POST", f"/admin/keys/{first}/disable", {"reason": "contract"}, 200),
                ("POST", f"/admin/keys/{first}/disable", {"reason": 7}, 400),
                ("POST", "/admin/keys/ffffffffffff/disable", None, 404),
                ("POST", f"/admin/keys/{first}/enable", None, 200),
                ("POST", "/admin/keys/ffffffffffff/enable", None, 404),
                ("POST", f"/admin/keys/{cooling}/reset", None, 200),
                ("POST", "/admin/keys/ffffffffffff/reset", None, 404),
                ("POST", f"/admin/keys/{first}/probe", None, 200),
                ("POST", "/admin/keys/ffffffffffff/probe", None, 404),
                ("POST", "/admin/probe", None, 200),
                ("POST", "/admin/reload", None, 200),
                ("DELETE", f"/admin/keys/{key_id(NEW_KEY)}", None, 200),
                ("DELETE", f"/admin/keys/{key_id(NEW_KEY)}", None, 404),
            ]
            for method, path, body, expected in script:
                status, _ = await admin.call(method, path, body)
                assert status == expected, (method, path, status)
            config.write_text("keys: [{key: 12}]\n")
            status, error = await admin.post("/admin/reload")
            assert status == 400 and error["error"]["code"] == "invalid_config"
        operations = {(op.method, op.template) for op in admin_contract().operations()}
        assert {(method, template) for method, template, status in admin.seen if status < 300} == operations

    async def test_reload_without_a_file_is_409(self, proxy: RunningProxy) -> None:
        """A proxy started without a configuration file answers reload with 409 no_config_file."""
        async with aiohttp.ClientSession() as session:
            status, error = await AdminClient(session, proxy.url).post("/admin/reload")
        assert status == 409 and error["error"]["code"] == "no_config_file"


class TestAdminAuth:
    @pytest.mark.parametrize(
        "authorization",
        [
            None,
            "Bearer wrong-token-000000000",
            f"Bearer {ADMIN_TOKEN}x",
            f"Basic {ADMIN_TOKEN}",
            f"Bearer {CLIENT_TOKEN}",
            ADMIN_TOKEN,
        ],
        ids=["none", "wrong", "longer", "basic", "client-token", "no-scheme"],
    )
    async def test_every_operation_refuses_without_the_token(
        self, proxy: RunningProxy, authorization: str | None
    ) -> None:
        """Every documented operation answers 401 unauthorized, the same whatever was wrong."""
        headers = {"Authorization": authorization} if authorization is not None else {}
        messages = set()
        async with aiohttp.ClientSession() as session:
            for operation in admin_contract().operations():
                path = _concrete(operation.template)
                async with session.request(
                    operation.method, f"{proxy.url}{path}", headers=headers
                ) as response:
                    payload = await response.read()
                    assert response.status == 401, operation.name
                    assert response.headers["WWW-Authenticate"] == "Bearer"
                    error = admin_contract().check(
                        operation.method, path, 401, response.headers["Content-Type"], payload
                    )
                messages.add((error["error"]["code"], error["error"]["message"]))
        assert messages == {("unauthorized", "admin authentication required")}

    async def test_refused_calls_change_nothing(self, proxy: RunningProxy) -> None:
        """A refused disable or delete leaves the key as it was."""
        async with aiohttp.ClientSession() as session:
            for method, path in [
                ("POST", f"/admin/keys/{key_id(KEYS[0])}/disable"),
                ("DELETE", f"/admin/keys/{key_id(KEYS[0])}"),
            ]:
                async with session.request(method, f"{proxy.url}{path}") as response:
                    assert response.status == 401
            status, key = await AdminClient(session, proxy.url).get(f"/admin/keys/{key_id(KEYS[0])}")
        assert status == 200 and key["state"] == "active"

    async def test_no_admin_token_configured_refuses_everything(self, proxy_factory: ProxyFactory) -> None:
        """Without auth.admin_token the admin API is closed, even to an empty bearer."""
        proxy = await proxy_factory(auth={"admin_token": None})
        async with aiohttp.ClientSession() as session:
            for value in ("Bearer ", "Bearer", f"Bearer {ADMIN_TOKEN}"):
                async with session.get(
                    f"{proxy.url}/admin/pool", headers={"Authorization": value}
                ) as response:
                    assert response.status == 401
