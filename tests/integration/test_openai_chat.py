"""Chat completions through the official openai SDK: plain, streamed, n, JSON modes, images, thinking."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gemini_proxy.fake_upstream.runner import RunningFake
from tests.conftest import ProxyFactory, RunningProxy
from tests.integration.openai_sdk import access_events, async_client, sync_client, upstream_bodies

MODEL = "gemini-2.5-flash"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _extra(obj: Any, name: str) -> Any:
    """A field the SDK keeps without declaring it (``reasoning_content``)."""
    return (obj.model_extra or {}).get(name)


class TestPlainChat:
    async def test_sync_client_chat(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """The sync client gets the fake's echo, finish_reason stop and consistent usage."""

        def create() -> ChatCompletion:
            with sync_client(proxy) as client:
                return client.chat.completions.create(
                    model=MODEL,
                    messages=[
                        {"role": "system", "content": "be brief"},
                        {"role": "user", "content": "hello"},
                    ],
                    max_tokens=50,
                    temperature=0.5,
                )

        completion = await asyncio.to_thread(create)
        choice = completion.choices[0]
        assert choice.message.content == "Echo: hello"
        assert choice.finish_reason == "stop"
        assert completion.model == MODEL
        assert completion.id.startswith("chatcmpl-")
        usage = completion.usage
        assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
        sent = upstream_bodies(fake, "generateContent")[-1]
        assert sent["systemInstruction"]["parts"][0]["text"] == "be brief"
        assert sent["generationConfig"]["temperature"] == 0.5
        assert sent["generationConfig"]["maxOutputTokens"] == 50

    async def test_async_client_chat(self, proxy: RunningProxy) -> None:
        """The async client gets the same answer."""
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi there"}]
            )
        assert completion.choices[0].message.content == "Echo: hi there"

    async def test_user_is_logged_and_never_sent_upstream(
        self, proxy: RunningProxy, fake: RunningFake
    ) -> None:
        """The ``user`` field appears in the access log and nowhere in the upstream request."""
        async with async_client(proxy) as client:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], user="end-user-42"
            )
        assert b"end-user-42" not in fake.state.recorded[-1].body
        event = access_events(proxy)[-1]
        assert event["user"] == "end-user-42"
        assert event["surface"] == "openai" and event["client"] == "tests" and event["model"] == MODEL

    async def test_base_url_without_v1(self, proxy: RunningProxy) -> None:
        """A client whose base URL is the server root is served at /chat/completions."""
        async with async_client(proxy, path="") as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "root"}]
            )
        assert completion.choices[0].message.content == "Echo: root"

    async def test_alias_resolves_and_is_echoed(self, proxy_factory: ProxyFactory, fake: RunningFake) -> None:
        """A configured alias goes upstream as its target and comes back as the client wrote it."""
        proxy = await proxy_factory(upstream={"base_url": fake.url}, models={"aliases": {"gpt-4o": MODEL}})
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
            )
        assert completion.model == "gpt-4o"
        assert fake.state.recorded[-1].path == f"/v1beta/models/{MODEL}:generateContent"


class TestStreaming:
    async def _stream(self, proxy: RunningProxy, **extra: Any) -> list[ChatCompletionChunk]:
        async with async_client(proxy) as client:
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "hello stream world"}],
                stream=True,
                **extra,
            )
            return [chunk async for chunk in stream]

    async def test_stream_without_usage(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """Chunks add up to the answer, the role comes first, the last chunk says stop, no usage anywhere."""
        chunks = await self._stream(proxy)
        assert chunks[0].choices[0].delta.role == "assistant"
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Echo: hello stream world"
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert all(c.usage is None for c in chunks)
        assert len({c.id for c in chunks}) == 1
        recorded = fake.state.recorded[-1]
        assert recorded.path.endswith(":streamGenerateContent") and "alt=sse" in recorded.query

    async def test_stream_with_usage(self, proxy: RunningProxy) -> None:
        """include_usage adds one final chunk with no choices and the usage; earlier chunks carry none."""
        chunks = await self._stream(proxy, stream_options={"include_usage": True})
        last = chunks[-1]
        assert last.choices == [] and last.usage is not None
        assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens > 0
        assert all(c.usage is None for c in chunks[:-1])
        assert chunks[-2].choices[0].finish_reason == "stop"

    async def test_sync_stream(self, proxy: RunningProxy) -> None:
        """The sync client iterates the same stream."""

        def collect() -> str:
            with sync_client(proxy) as client:
                stream = client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "sync stream"}], stream=True
                )
                return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

        assert await asyncio.to_thread(collect) == "Echo: sync stream"


class TestCandidates:
    async def test_n_two(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """n=2 sends candidateCount 2 and returns two indexed choices."""
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "two"}], n=2
            )
        assert [c.index for c in completion.choices] == [0, 1]
        assert [c.message.content for c in completion.choices] == ["Echo: two [0]", "Echo: two [1]"]
        assert upstream_bodies(fake, "generateContent")[-1]["generationConfig"]["candidateCount"] == 2

    async def test_n_two_streamed(self, proxy: RunningProxy) -> None:
        """Streamed with n=2, each choice index accumulates its own text and finishes."""
        async with async_client(proxy) as client:
            stream = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "two"}], n=2, stream=True
            )
            texts: dict[int, str] = {}
            finished: dict[int, str | None] = {}
            async for chunk in stream:
                for choice in chunk.choices:
                    texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
                    if choice.finish_reason:
                        finished[choice.index] = choice.finish_reason
        assert texts == {0: "Echo: two [0]", 1: "Echo: two [1]"}
        assert finished == {0: "stop", 1: "stop"}


class TestResponseFormats:
    async def test_json_object(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """json_object asks Gemini for application/json and the content parses as a JSON object."""
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "give json"}],
                response_format={"type": "json_object"},
            )
        content = completion.choices[0].message.content
        assert content is not None and isinstance(orjson.loads(content), dict)
        config = upstream_bodies(fake, "generateContent")[-1]["generationConfig"]
        assert config["responseMimeType"] == "application/json"

    async def test_json_schema(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """json_schema sends a schema Gemini accepts and the content has the schema's fields."""
        schema = {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
            "additionalProperties": False,
        }
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "a person"}],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "person", "schema": schema, "strict": True},
                },
            )
        content = completion.choices[0].message.content
        assert content is not None
        value = orjson.loads(content)
        assert isinstance(value["name"], str) and isinstance(value["age"], int)
        config = upstream_bodies(fake, "generateContent")[-1]["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        sent_schema = config.get("responseSchema") or config.get("responseJsonSchema")
        assert set(sent_schema["properties"]) == {"name", "age"}


class TestImages:
    async def test_image_data_url(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """An image data URL goes upstream as inlineData with its media type and bytes."""
        url = "data:image/png;base64," + base64.b64encode(PNG).decode()
        async with async_client(proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this"},
                            {"type": "image_url", "image_url": {"url": url}},
                        ],
                    }
                ],
            )
        assert completion.choices[0].message.content == "Echo: what is this"
        parts = upstream_bodies(fake, "generateContent")[-1]["contents"][0]["parts"]
        assert parts[1]["inlineData"] == {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}


class TestThinking:
    @pytest.fixture
    async def thinking_proxy(self, proxy_factory: ProxyFactory, fake: RunningFake) -> RunningProxy:
        """A proxy configured to return thoughts (openai.include_thoughts)."""
        return await proxy_factory(upstream={"base_url": fake.url}, openai={"include_thoughts": True})

    async def test_reasoning_effort_with_thoughts_from_config(
        self, thinking_proxy: RunningProxy, fake: RunningFake
    ) -> None:
        """reasoning_effort sets the budget; thoughts come back as reasoning_content, not content."""
        async with async_client(thinking_proxy) as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "ponder"}], reasoning_effort="low"
            )
        message = completion.choices[0].message
        assert message.content == "Echo: ponder"
        assert _extra(message, "reasoning_content") == "Thinking about: ponder"
        thinking = upstream_bodies(fake, "generateContent")[-1]["generationConfig"]["thinkingConfig"]
        assert thinking == {"thinkingBudget": 1024, "includeThoughts": True}

    async def test_thoughts_streamed(self, thinking_proxy: RunningProxy) -> None:
        """Streamed thoughts arrive as reasoning_content deltas, apart from the content."""
        async with async_client(thinking_proxy) as client:
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "ponder"}],
                reasoning_effort="high",
                stream=True,
            )
            chunks = [chunk async for chunk in stream]
        reasoning = "".join(
            _extra(c.choices[0].delta, "reasoning_content") or "" for c in chunks if c.choices
        )
        content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert reasoning == "Thinking about: ponder"
        assert content == "Echo: ponder"

    async def test_thoughts_through_the_google_extension(self, proxy: RunningProxy) -> None:
        """Without the config switch, extra_body google.thinking_config.include_thoughts asks for thoughts."""
        async with async_client(proxy) as client:
            plain = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "ponder"}], reasoning_effort="medium"
            )
            asked = await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": "ponder"}],
                extra_body={"google": {"thinking_config": {"include_thoughts": True}}},
            )
        assert _extra(plain.choices[0].message, "reasoning_content") is None
        assert _extra(asked.choices[0].message, "reasoning_content") == "Thinking about: ponder"
