"""The structured log, captured from the app's ``log_stream``: the access event's fields, the
request id, and no secret anywhere in the complete output."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import orjson

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id, mask
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ADDED_GEMINI_KEY = "AIzaSyLOGADDED0abcdefghijklmnopqrstuvwxy"
ADDED_ODD_KEY = "custom-issued.secret_value-0001"  # not shaped like a Gemini key
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _access(proxy: RunningProxy) -> list[dict[str, Any]]:
    return [event for event in proxy.log_events() if event["event"] == "access"]


async def _post(
    session: aiohttp.ClientSession, url: str, *, headers: dict[str, str] | None = None, body: bytes = BODY
) -> aiohttp.ClientResponse:
    async with session.post(
        url, data=body, headers={"x-goog-api-key": CLIENT_TOKEN, **(headers or {})}
    ) as response:
        await response.read()
        return response


class TestAccessEvent:
    async def test_fields_of_a_failed_over_call(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """One access line per request: route, surface, model, status, duration, keys tried,
        upstream status, outcome, tokens, client token name, request id, level, time."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with aiohttp.ClientSession() as session:
            await _post(session, f"{proxy.url}{GENERATE}")
        [event] = _access(proxy)
        assert {k: event[k] for k in ("method", "route", "surface", "model", "status", "attempts")} == {
            "method": "POST",
            "route": GENERATE,
            "surface": "gemini",
            "model": "gemini-2.5-flash",
            "status": 200,
            "attempts": 2,
        }
        assert event["keys_tried"][0] == key_id(KEYS[0]) and len(event["keys_tried"]) == 2
        assert (event["upstream_status"], event["outcome"], event["client"]) == (200, "ok", "tests")
        assert event["prompt_tokens"] > 0 and event["completion_tokens"] > 0
        assert isinstance(event["duration_ms"], float) and event["duration_ms"] > 0
        assert event["level"] == "info" and ISO_MS.match(event["timestamp"])
        assert event["request_id"]

    async def test_refused_call_names_its_error(self, proxy: RunningProxy) -> None:
        """A refused call logs its status and error code, and no client name."""
        async with aiohttp.ClientSession() as session:
            await _post(session, f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": "wrong-token-0000"})
        [event] = _access(proxy)
        assert (event["status"], event["error"], event["attempts"]) == (401, "invalid_api_key", 0)
        assert "client" not in event

    async def test_admin_calls_are_logged(self, proxy: RunningProxy) -> None:
        """Admin calls get an access line under the admin surface, refused ones too."""
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{proxy.url}/admin/pool", headers=ADMIN) as response:
                assert response.status == 200
            async with session.get(f"{proxy.url}/admin/pool") as response:
                assert response.status == 401
        assert [(e["surface"], e["route"], e["status"]) for e in _access(proxy)] == [
            ("admin", "/admin/pool", 200),
            ("admin", "/admin/pool", 401),
        ]


class TestRequestId:
    async def test_incoming_id_is_returned_and_logged(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A valid X-Request-ID comes back and is on every line logged for the request."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(key_prefix=KEYS[0], behavior=Behavior.RATE_MINUTE),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with aiohttp.ClientSession() as session:
            response = await _post(
                session, f"{proxy.url}{GENERATE}", headers={"X-Request-ID": "client-req.42:a_b"}
            )
        assert response.headers["X-Request-ID"] == "client-req.42:a_b"
        tagged = [e for e in proxy.log_events() if e.get("request_id") == "client-req.42:a_b"]
        assert [e["event"] for e in tagged] == ["key_cooled", "access"]

    async def test_unusable_ids_are_replaced(self, proxy: RunningProxy) -> None:
        """An id with odd characters or over 128 characters is replaced by a fresh, distinct one."""
        sent = ["has spaces in it", "x" * 129, 'quote"d', ""]
        returned = []
        async with aiohttp.ClientSession() as session:
            for value in sent:
                response = await _post(session, f"{proxy.url}{GENERATE}", headers={"X-Request-ID": value})
                returned.append(response.headers["X-Request-ID"])
        assert len(set(returned)) == len(sent) and not set(returned) & set(sent)
        assert [e["request_id"] for e in _access(proxy)] == returned

    async def test_every_kind_of_answer_carries_the_id(self, proxy: RunningProxy) -> None:
        """Streams the handlers prepare themselves, errors of every surface, unknown paths,
        wrong methods, admin and ops answers: each carries the id its access line has."""
        client = {"x-goog-api-key": CLIENT_TOKEN}
        chat = orjson.dumps({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})
        stream_chat = orjson.dumps(
            {"model": "gemini-2.5-flash", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        )
        calls: list[tuple[str, str, dict[str, str], bytes | None, int]] = [
            ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", client, BODY, 200),
            ("POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", client, BODY, 200),
            ("POST", "/v1/chat/completions", {"Authorization": f"Bearer {CLIENT_TOKEN}"}, stream_chat, 200),
            ("POST", "/v1/chat/completions", {"Authorization": f"Bearer {CLIENT_TOKEN}"}, chat, 200),
            ("POST", "/v1/chat/completions", {}, chat, 401),
            ("POST", GENERATE, client, b"{not json", 400),
            ("GET", "/nowhere", {}, None, 404),
            ("GET", GENERATE, client, None, 405),
            ("GET", "/admin/pool", ADMIN, None, 200),
            ("GET", "/healthz", {}, None, 200),
        ]
        returned = []
        async with aiohttp.ClientSession() as session:
            for index, (method, path, headers, body, status) in enumerate(calls):
                sent_id = f"kind-{index}"
                async with session.request(
                    method, f"{proxy.url}{path}", data=body, headers={**headers, "X-Request-ID": sent_id}
                ) as response:
                    await response.read()
                    assert response.status == status, path
                    returned.append(response.headers.get("X-Request-ID"))
        assert returned == [f"kind-{index}" for index in range(len(calls))]
        assert [e["request_id"] for e in _access(proxy)] == returned


class TestNoSecretInTheLog:
    async def test_complete_log_holds_no_key_or_token(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """After traffic, failures, admin calls and keys added at run time, no secret value is in
        any line, though the redacted forms show that the secrets did reach the logger."""
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=KEYS[0], behavior=Behavior.INVALID_KEY),
                    Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE),
                )
            )
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{proxy.url}/admin/keys",
                data=orjson.dumps({"keys": [ADDED_GEMINI_KEY, {"key": ADDED_ODD_KEY, "name": "odd"}]}),
                headers=ADMIN,
            ) as response:
                assert response.status == 201
            for _ in range(4):
                await _post(session, f"{proxy.url}{GENERATE}")
                await _post(
                    session, f"{proxy.url}/v1/models/gemini-2.5-flash:generateContent?key={CLIENT_TOKEN}"
                )
            # Secrets where a careless client puts them: in the path, in the query, as tokens.
            for secret in (ADDED_ODD_KEY, ADDED_GEMINI_KEY, KEYS[2], ADMIN_TOKEN):
                await _post(session, f"{proxy.url}/v1beta/models/{secret}:generateContent")
                await _post(session, f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": secret})
            async with session.post(
                f"{proxy.url}/admin/keys/{key_id(ADDED_ODD_KEY)}/probe", headers=ADMIN
            ) as r:
                assert r.status == 200
            async with session.get(f"{proxy.url}/admin/keys/{ADDED_ODD_KEY}", headers=ADMIN) as r:
                assert r.status == 404
            async with session.get(
                f"{proxy.url}/admin/pool", headers={"Authorization": f"Bearer {ADDED_ODD_KEY}"}
            ) as r:
                assert r.status == 401
        await proxy.runner.cleanup()
        log = proxy.log.getvalue()
        assert len(_access(proxy)) >= 20
        for secret in (*KEYS, ADDED_GEMINI_KEY, ADDED_ODD_KEY, CLIENT_TOKEN, ADMIN_TOKEN):
            assert secret not in log, f"a secret leaked into the log: {mask(secret)}"
        assert mask(ADDED_ODD_KEY) in log  # it was logged, and redacted on the way
        assert "keys_added" in log
