"""Every class of failure on the OpenAI surface, as the openai SDK's own exception types."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import orjson
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.services import SERVICES
from tests.conftest import CLIENT_TOKEN, FakeFactory, ProxyFactory, RunningProxy
from tests.integration.openai_sdk import access_events, async_client, sync_client

MODEL = "gemini-2.5-flash"
HI: list[Any] = [{"role": "user", "content": "hi"}]


async def _post_raw(proxy: RunningProxy, body: bytes, path: str = "/v1/chat/completions") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            proxy.url + path,
            data=body,
            headers={"Authorization": f"Bearer {CLIENT_TOKEN}", "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status, orjson.loads(await response.read())


async def _proxy_with(proxy_factory: ProxyFactory, fake_factory: FakeFactory, rule: Rule) -> RunningProxy:
    fake = await fake_factory(FakeConfig(rules=(rule,)))
    return await proxy_factory(upstream={"base_url": fake.url}, pool={"max_attempts": 4})


class TestBadRequests:
    @pytest.mark.parametrize(
        ("body", "says"),
        [
            (b"{not json", "not valid JSON"),
            (b"", "empty"),
            (b"[1, 2]", "must be a JSON object"),
        ],
    )
    async def test_unusable_body_is_400(
        self, proxy: RunningProxy, fake: RunningFake, body: bytes, says: str
    ) -> None:
        """A body that is not a JSON object is a 400 invalid_request_error saying what is wrong."""
        status, answer = await _post_raw(proxy, body)
        assert status == 400
        assert answer["error"]["type"] == "invalid_request_error"
        assert says in answer["error"]["message"]
        assert sum(fake.state.requests_by_key.values()) == 0

    async def test_bad_parameter_is_bad_request_error_with_param(
        self, proxy: RunningProxy, fake: RunningFake
    ) -> None:
        """An out-of-range parameter raises BadRequestError naming it, and nothing goes upstream."""

        def create() -> None:
            with sync_client(proxy) as client:
                client.chat.completions.create(model=MODEL, messages=HI, temperature=5)

        with pytest.raises(openai.BadRequestError) as raised:
            await asyncio.to_thread(create)
        assert raised.value.status_code == 400
        assert raised.value.param == "temperature"
        assert raised.value.type == "invalid_request_error"
        assert sum(fake.state.requests_by_key.values()) == 0

    async def test_get_on_a_post_path_is_405_in_openai_format(self, proxy: RunningProxy) -> None:
        """GET /v1/chat/completions is refused in OpenAI's error format."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                proxy.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}
            ) as response,
        ):
            assert response.status == 405
            assert response.headers["Allow"] == "POST"
            assert (await response.json())["error"]["type"] == "invalid_request_error"


class TestClientAuth:
    async def test_wrong_token_is_authentication_error(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """A wrong proxy token raises AuthenticationError (401 invalid_api_key); nothing goes upstream."""

        def create() -> None:
            with sync_client(proxy, token="not-the-token-123") as client:
                client.chat.completions.create(model=MODEL, messages=HI)

        with pytest.raises(openai.AuthenticationError) as raised:
            await asyncio.to_thread(create)
        assert raised.value.status_code == 401
        assert raised.value.code == "invalid_api_key"
        assert sum(fake.state.requests_by_key.values()) == 0


class TestUpstreamErrors:
    async def test_unknown_model_is_not_found_error(self, proxy: RunningProxy) -> None:
        """A model the upstream does not have raises NotFoundError with code model_not_found."""
        async with async_client(proxy) as client:
            with pytest.raises(openai.NotFoundError) as raised:
                await client.chat.completions.create(model="gemini-0-nonexistent", messages=HI)
        assert raised.value.code == "model_not_found"
        assert raised.value.type == "invalid_request_error"

    @pytest.mark.parametrize("stream", [False, True])
    async def test_every_key_rate_limited_is_rate_limit_error(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, stream: bool
    ) -> None:
        """All keys 429 (streamed or not): RateLimitError, rate_limit_exceeded, Retry-After near the upstream's delay."""
        proxy = await _proxy_with(
            proxy_factory, fake_factory, Rule(behavior=Behavior.RATE_MINUTE, retry_delay_s=42)
        )
        async with async_client(proxy) as client:
            with pytest.raises(openai.RateLimitError) as raised:
                await client.chat.completions.create(model=MODEL, messages=HI, stream=stream)
        assert raised.value.code == "rate_limit_exceeded"
        assert raised.value.type == "rate_limit_error"
        assert 1 <= int(raised.value.response.headers["retry-after"]) <= 43

    async def test_every_key_invalid_is_internal_server_error_503(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """All keys rejected: InternalServerError 503 no_usable_keys (server_error), not a 401."""
        proxy = await _proxy_with(proxy_factory, fake_factory, Rule(behavior=Behavior.INVALID_KEY))

        def create() -> None:
            with sync_client(proxy) as client:
                client.chat.completions.create(model=MODEL, messages=HI)

        with pytest.raises(openai.InternalServerError) as raised:
            await asyncio.to_thread(create)
        assert raised.value.status_code == 503
        assert raised.value.code == "no_usable_keys"
        assert raised.value.type == "server_error"

    async def test_upstream_server_error_is_passed_on_as_server_error(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """Every attempt answered 500: the client gets a 500 server_error with the upstream's message."""
        proxy = await _proxy_with(proxy_factory, fake_factory, Rule(behavior=Behavior.SERVER_ERROR))
        async with async_client(proxy) as client:
            with pytest.raises(openai.InternalServerError) as raised:
                await client.chat.completions.create(model=MODEL, messages=HI)
        assert raised.value.status_code == 500
        assert raised.value.type == "server_error"
        assert "internal error" in raised.value.message.lower()


class TestBrokenStreams:
    @pytest.mark.parametrize("behavior", [Behavior.CUT_STREAM, Behavior.STREAM_ERROR])
    async def test_stream_broken_after_start_raises_api_error(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory, behavior: Behavior
    ) -> None:
        """A stream the upstream cuts or fails after its first chunk raises APIError while iterating."""
        proxy = await _proxy_with(proxy_factory, fake_factory, Rule(behavior=behavior))
        received: list[str] = []

        async def consume() -> None:
            async with async_client(proxy) as client:
                stream = await client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "a longer answer please"}], stream=True
                )
                async for chunk in stream:
                    received.extend(c.delta.content or "" for c in chunk.choices)

        with pytest.raises(openai.APIError) as raised:
            await consume()
        assert not isinstance(raised.value, openai.APIStatusError)  # raised from the stream's error event
        assert "".join(received).startswith("Echo:")
        event = access_events(proxy)[-1]
        assert event["stream"] is True and event["outcome"] != "ok"

    async def test_client_disconnect_closes_the_upstream_stream(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A client that goes away mid-stream makes the proxy close its upstream stream at once."""
        fake = await fake_factory(FakeConfig(stream_chunks=40, chunk_delay_ms=50))
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        body = orjson.dumps(
            {
                "model": MODEL,
                "stream": True,
                "messages": [{"role": "user", "content": " ".join(["word"] * 40)}],
            }
        )
        async with aiohttp.ClientSession() as session:
            response = await session.post(
                proxy.url + "/v1/chat/completions",
                data=body,
                headers={"Authorization": f"Bearer {CLIENT_TOKEN}"},
            )
            assert response.status == 200
            assert (await response.content.readline()).startswith(b"data: ")
            assert fake.state.open_streams == 1
            response.close()
            for _ in range(50):  # one second at most
                if not fake.state.open_streams:
                    break
                await asyncio.sleep(0.02)
        assert fake.state.open_streams == 0  # the whole stream would have taken two seconds
        assert proxy.app[SERVICES].streams.active == 0


class TestSafety:
    async def test_blocked_prompt_is_content_filter(self, proxy: RunningProxy) -> None:
        """A prompt Gemini blocks is a 200 with finish_reason content_filter and a refusal."""
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "please BLOCKME now"}]
            )
        choice = completion.choices[0]
        assert choice.finish_reason == "content_filter"
        assert not choice.message.content
        assert choice.message.refusal

    async def test_blocked_prompt_streamed_is_content_filter(self, proxy: RunningProxy) -> None:
        """Streamed, a blocked prompt ends with finish_reason content_filter and no error."""
        async with async_client(proxy) as client:
            stream = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "BLOCKME"}], stream=True
            )
            reasons = [c.choices[0].finish_reason async for c in stream if c.choices]
        assert reasons[-1] == "content_filter"

    async def test_blocked_output_is_content_filter(self, proxy: RunningProxy) -> None:
        """An answer stopped for safety is finish_reason content_filter."""
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "say UNSAFE_OUTPUT"}]
            )
        assert completion.choices[0].finish_reason == "content_filter"
