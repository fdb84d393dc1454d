"""Google's OpenAI-compatible layer on the fake: chat, models and embeddings with Bearer keys."""

from __future__ import annotations

import base64
import struct

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.embeddings import embedding_vector
from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from tests.unit.fake_upstream.conftest import FakeStarter, get_json, post_json

BEARER = {"Authorization": "Bearer ok1"}
CHAT = "/v1beta/openai/chat/completions"
MESSAGES = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": [{"type": "text", "text": "hi there"}]},
]


class TestChatCompletions:
    async def test_unary(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A chat completion echoes the last user message with usage, keyed by the Bearer token."""
        status, body = await post_json(
            session, fake.url + CHAT, {"model": "gemini-2.5-flash", "messages": MESSAGES}, BEARER
        )
        assert status == 200
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"] == {"role": "assistant", "content": "Echo: hi there"}
        assert body["choices"][0]["finish_reason"] == "stop"
        assert body["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
        assert fake.state.requests_by_key_model[("ok1", "gemini-2.5-flash")] == 1

    async def test_stream_ends_with_done(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A streamed completion sends role then content deltas, a stop chunk, usage on request, then [DONE]."""
        request = {
            "model": "models/gemini-2.5-flash",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        async with session.post(fake.url + CHAT, json=request, headers=BEARER) as response:
            assert response.content_type == "text/event-stream"
            raw = await response.read()
        events = [e.removeprefix(b"data: ") for e in raw.split(b"\n\n") if e]
        assert events[-1] == b"[DONE]"
        chunks = [orjson.loads(e) for e in events[:-1]]
        assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
        assert (
            "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
            == "Echo: hi there"
        )
        assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 7
        assert {c["model"] for c in chunks} == {"gemini-2.5-flash"}

    async def test_unknown_model_is_404(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """An unknown model is a 404 in Google's error format."""
        status, body = await post_json(
            session, fake.url + CHAT, {"model": "gpt-4o", "messages": MESSAGES}, BEARER
        )
        assert status == 404 and body["error"]["status"] == "NOT_FOUND"

    async def test_no_messages_is_400(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A request without messages is a 400."""
        status, _ = await post_json(session, fake.url + CHAT, {"model": "gemini-2.5-flash"}, BEARER)
        assert status == 400

    async def test_no_key_is_403(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """Without a Bearer token the call is refused like any keyless call."""
        status, _ = await post_json(
            session, fake.url + CHAT, {"model": "gemini-2.5-flash", "messages": MESSAGES}, {}
        )
        assert status == 403

    async def test_rules_apply_with_the_body_model(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """Rules match the Bearer key and the body's model, and answer in Google's error format."""
        rules = (Rule(key_prefix="ok", model="gemini-2.5-pro", behavior=Behavior.RATE_BARE),)
        fake = await start_fake(FakeConfig(rules=rules))
        pro, body = await post_json(
            session, fake.url + CHAT, {"model": "gemini-2.5-pro", "messages": MESSAGES}, BEARER
        )
        flash, _ = await post_json(
            session, fake.url + CHAT, {"model": "gemini-2.5-flash", "messages": MESSAGES}, BEARER
        )
        assert (pro, flash) == (429, 200)
        assert body["error"]["status"] == "RESOURCE_EXHAUSTED"

    async def test_cut_stream_drops_the_connection(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """cut_stream on the OpenAI layer closes the connection without an answer."""
        fake = await start_fake(FakeConfig(rules=(Rule(behavior=Behavior.CUT_STREAM),)))
        request = {"model": "gemini-2.5-flash", "messages": MESSAGES, "stream": True}
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(fake.url + CHAT, json=request, headers=BEARER)


class TestModelsAndEmbeddings:
    async def test_models(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """GET models lists ids as models/<name>; GET models/{id} returns one."""
        status, listing = await get_json(session, fake.url + "/v1beta/openai/models", BEARER)
        assert status == 200 and listing["object"] == "list"
        assert {
            "id": "models/gemini-2.5-flash",
            "object": "model",
            "created": 0,
            "owned_by": "google",
        } in listing["data"]
        status, model = await get_json(session, fake.url + "/v1beta/openai/models/gemini-2.5-pro", BEARER)
        assert status == 200 and model["id"] == "models/gemini-2.5-pro"

    async def test_float_embeddings(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """Embeddings come as float lists of the requested dimensions, one per input."""
        request = {"model": "gemini-embedding-001", "input": ["a", "b"], "dimensions": 4}
        status, body = await post_json(session, fake.url + "/v1beta/openai/embeddings", request, BEARER)
        assert status == 200
        assert [d["index"] for d in body["data"]] == [0, 1]
        assert body["data"][0]["embedding"] == list(embedding_vector("a", 4))

    async def test_base64_embeddings(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """encoding_format base64 gives little-endian float32 bytes, as the OpenAI SDK decodes them."""
        request = {"model": "text-embedding-004", "input": "a", "encoding_format": "base64"}
        _, body = await post_json(session, fake.url + "/v1beta/openai/embeddings", request, BEARER)
        raw = base64.b64decode(body["data"][0]["embedding"])
        values = struct.unpack(f"<{len(raw) // 4}f", raw)
        assert len(values) == 768
        assert abs(values[0] - embedding_vector("a", 768)[0]) < 1e-6

    async def test_token_inputs_are_400(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """Token-array inputs cannot be embedded."""
        request = {"model": "text-embedding-004", "input": [[1, 2]]}
        status, _ = await post_json(session, fake.url + "/v1beta/openai/embeddings", request, BEARER)
        assert status == 400
