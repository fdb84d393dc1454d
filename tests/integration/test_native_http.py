"""Native passthrough over raw HTTP: credentials, query strings, bodies, stream forms, errors."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory, RunningProxy

GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
BODY = b'{"contents": [{"parts": [{"text": "byte for byte"}], "role": "user"}], "generation_config": {"temperature": 0.1}}'


async def _post(url: str, *, headers: dict[str, str] | None = None, body: bytes = BODY) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
        ) as response,
    ):
        return response.status, await response.read()


class TestCredentials:
    async def test_query_key_is_accepted_and_stripped(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """?key=TOKEN authenticates; upstream gets the pool key in a header and no key in the query."""
        status, _ = await _post(f"{proxy.url}{GENERATE}?key={CLIENT_TOKEN}&$fields=candidates")
        assert status == 200
        recorded = fake.state.recorded[-1]
        assert "key=" not in recorded.query
        assert "$fields=candidates" in recorded.query or "%24fields=candidates" in recorded.query
        assert recorded.key in KEYS

    @pytest.mark.parametrize(
        "headers",
        [{"x-goog-api-key": CLIENT_TOKEN}, {"Authorization": f"Bearer {CLIENT_TOKEN}"}],
    )
    async def test_header_and_bearer(self, proxy: RunningProxy, headers: dict[str, str]) -> None:
        """x-goog-api-key and Authorization: Bearer both authenticate."""
        status, _ = await _post(f"{proxy.url}{GENERATE}", headers=headers)
        assert status == 200

    @pytest.mark.parametrize("headers", [{}, {"x-goog-api-key": "not-the-token-xyz"}])
    async def test_missing_or_wrong_token_is_401_in_gemini_format(
        self, proxy: RunningProxy, fake: RunningFake, headers: dict[str, str]
    ) -> None:
        """No token or a wrong one gives 401 UNAUTHENTICATED and nothing goes upstream."""
        status, body = await _post(f"{proxy.url}{GENERATE}", headers=headers)
        assert status == 401
        error = orjson.loads(body)["error"]
        assert error["code"] == 401 and error["status"] == "UNAUTHENTICATED"
        assert sum(fake.state.requests_by_key.values()) == 0


class TestPassthrough:
    async def test_body_is_forwarded_byte_for_byte(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """The upstream receives exactly the client's bytes (snake_case fields included)."""
        status, _ = await _post(f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200
        assert fake.state.recorded[-1].body == BODY

    async def test_headers_sent_upstream(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """The pool key goes as x-goog-api-key, bodies are asked for unencoded whatever the
        client accepts, the client's own headers of note pass, its credentials do not."""
        status, _ = await _post(
            f"{proxy.url}{GENERATE}",
            headers={
                "x-goog-api-key": CLIENT_TOKEN,
                "Accept-Encoding": "gzip, br",
                "User-Agent": "probe-agent/1.0",
                "x-goog-api-client": "genai-py/9.9",
                "Cookie": "session=private",
            },
        )
        assert status == 200
        sent = {name.lower(): value for name, value in fake.state.recorded[-1].headers.items()}
        assert sent["x-goog-api-key"] in KEYS
        assert sent["accept-encoding"] == "identity"
        assert (sent["user-agent"], sent["x-goog-api-client"]) == ("probe-agent/1.0", "genai-py/9.9")
        assert "cookie" not in sent and CLIENT_TOKEN not in str(sent)

    async def test_colon_sent_as_percent_3a(self, proxy: RunningProxy) -> None:
        """A model method with the colon encoded as %3A is routed like ':'."""
        url = f"{proxy.url}/v1beta/models/gemini-2.5-flash%3AgenerateContent"
        status, body = await _post(url, headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200
        assert orjson.loads(body)["candidates"]

    async def test_sse_stream_is_relayed(self, proxy: RunningProxy) -> None:
        """alt=sse streams arrive as several data: events."""
        status, body = await _post(f"{proxy.url}{STREAM}?alt=sse", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200
        events = [line for line in body.split(b"\n") if line.startswith(b"data: ")]
        assert len(events) >= 2
        assert b'"finishReason"' in events[-1]

    async def test_json_array_stream_form(self, proxy: RunningProxy) -> None:
        """Without alt=sse the stream is one JSON array of responses."""
        status, body = await _post(f"{proxy.url}{STREAM}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200
        items = orjson.loads(body)
        assert isinstance(items, list) and len(items) >= 2
        assert items[-1]["candidates"][0]["finishReason"] == "STOP"

    async def test_upstream_client_error_passes_through(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """An upstream 404 for an unknown model reaches the client as it is, tried once."""
        url = f"{proxy.url}/v1beta/models/no-such-model:generateContent"
        status, body = await _post(url, headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 404
        assert orjson.loads(body)["error"]["status"] == "NOT_FOUND"
        assert sum(fake.state.requests_by_key.values()) == 1

    async def test_openai_compat_path_passes_through(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """/v1beta/openai/chat/completions goes upstream as it is, with a Bearer pool key."""
        body = orjson.dumps({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]})
        status, answer = await _post(
            f"{proxy.url}/v1beta/openai/chat/completions",
            headers={"Authorization": f"Bearer {CLIENT_TOKEN}"},
            body=body,
        )
        assert status == 200
        assert orjson.loads(answer)["choices"][0]["message"]["content"]
        assert fake.state.recorded[-1].body == body
        assert fake.state.recorded[-1].key in KEYS


class TestBadInput:
    async def test_unknown_path_is_404_json(self, proxy: RunningProxy) -> None:
        """Unknown paths give a JSON 404."""
        async with aiohttp.ClientSession() as session, session.get(f"{proxy.url}/nope") as response:
            assert response.status == 404
            assert (await response.json())["error"]["code"] == 404

    async def test_unsupported_method_is_404(self, proxy: RunningProxy) -> None:
        """A model method the proxy does not relay is a Gemini-format 404."""
        url = f"{proxy.url}/v1beta/models/gemini-2.5-flash:predictLongRunning"
        status, body = await _post(url, headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 404
        assert orjson.loads(body)["error"]["status"] == "NOT_FOUND"

    async def test_body_over_limit_is_413(self, proxy_factory: ProxyFactory, fake: RunningFake) -> None:
        """A body over server.max_body_bytes gives 413 and the proxy keeps serving."""
        proxy = await proxy_factory(upstream={"base_url": fake.url}, server={"max_body_bytes": 1024})
        status, body = await _post(
            f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN}, body=b"x" * 4096
        )
        assert status == 413
        assert orjson.loads(body)["error"]["code"] == 413
        status, _ = await _post(f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200

    async def test_unreachable_upstream_is_502(self, proxy_factory: ProxyFactory) -> None:
        """Nothing listening upstream: 502 UNAVAILABLE in Gemini's format."""
        proxy = await proxy_factory(upstream={"base_url": "http://127.0.0.1:9", "connect_timeout_s": 1})
        status, body = await _post(f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 502
        assert orjson.loads(body)["error"]["status"] == "UNAVAILABLE"

    async def test_upstream_timeout_is_504(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Every key too slow: 504 DEADLINE_EXCEEDED."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.SLOW, delay_ms=3000),)))
        proxy = await proxy_factory(
            upstream={"base_url": fake.url, "request_timeout_s": 0.3}, pool={"max_attempts": 2}
        )
        status, body = await _post(f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 504
        assert orjson.loads(body)["error"]["status"] == "DEADLINE_EXCEEDED"


class TestStreamsAndDisconnects:
    async def test_client_disconnect_cancels_upstream(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A client leaving mid-stream closes the upstream call; the proxy keeps serving."""
        fake = await fake_factory(FakeConfig(stream_chunks=50, chunk_delay_ms=100))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{proxy.url}{STREAM}?alt=sse", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            )
            await response.content.readany()
            response.close()
        for _ in range(50):
            if fake.state.open_streams == 0:
                break
            await asyncio.sleep(0.05)
        assert fake.state.open_streams == 0
        status, _ = await _post(f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200

    async def test_stream_idle_upstream_is_ended(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """An upstream stream that goes request_timeout_s without a byte is ended: the client's
        stream breaks, the upstream call is closed, the key is charged a timeout."""
        fake = await fake_factory(FakeConfig(stream_chunks=3, chunk_delay_ms=5000))
        proxy = await proxy_factory(upstream={"base_url": fake.url, "request_timeout_s": 0.4})
        loop = asyncio.get_running_loop()
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{proxy.url}{STREAM}?alt=sse", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            )
            assert response.status == 200
            first = await response.content.readany()
            assert first.startswith(b"data: ")
            waited_from = loop.time()
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
            waited = loop.time() - waited_from
        assert 0.3 < waited < 2.0  # the idle allowance, not the fake's 5 s pause
        for _ in range(50):
            if fake.state.open_streams == 0:
                break
            await asyncio.sleep(0.05)
        assert fake.state.open_streams == 0
        access = [e for e in proxy.log_events() if e.get("event") == "access"]
        assert access[-1]["status"] == 200 and access[-1]["outcome"] == "timeout"
        status, _ = await _post(f"{proxy.url}{GENERATE}", headers={"x-goog-api-key": CLIENT_TOKEN})
        assert status == 200

    async def test_slow_stream_within_the_allowance_completes(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Gaps shorter than request_timeout_s, adding up to more than it, are not a timeout:
        the allowance is per wait, not for the whole stream."""
        fake = await fake_factory(FakeConfig(stream_chunks=6, chunk_delay_ms=150))
        proxy = await proxy_factory(upstream={"base_url": fake.url, "request_timeout_s": 0.4})
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{proxy.url}{STREAM}?alt=sse", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            )
            body = await response.read()
        assert response.status == 200
        assert body.count(b"data: ") == 6
        access = [e for e in proxy.log_events() if e.get("event") == "access"]
        assert access[-1]["outcome"] == "ok"

    async def test_stream_cut_upstream_cuts_client(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """An upstream stream that breaks after its first event is not ended cleanly for the client."""
        fake = await fake_factory(FakeConfig(rules=(Rule(behavior=Behavior.CUT_STREAM),)))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                f"{proxy.url}{STREAM}?alt=sse", data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            )
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
