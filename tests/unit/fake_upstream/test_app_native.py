"""The native Gemini routes over a real loopback socket: forms, auth, errors and pacing."""

from __future__ import annotations

import asyncio
import gc
import time

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import FakeConfig
from tests.unit.fake_upstream.conftest import (
    GENERATE,
    KEY_HEADERS,
    STREAM,
    FakeStarter,
    get_json,
    post_json,
    sse_events,
    user_text,
)


class TestGenerate:
    @pytest.mark.parametrize(
        "path",
        [
            GENERATE,
            "/v1/models/gemini-2.5-flash:generateContent",
            "/v1beta/models/gemini-2.5-flash%3AgenerateContent",
        ],
    )
    async def test_url_forms(self, fake: RunningFake, session: aiohttp.ClientSession, path: str) -> None:
        """v1beta, v1 and a %3A colon all reach generateContent."""
        status, body = await post_json(session, fake.url + path, user_text("hello"))
        assert status == 200
        assert body["candidates"][0]["content"]["parts"] == [{"text": "Echo: hello"}]

    async def test_json_content_type(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A unary answer is application/json."""
        async with session.post(fake.url + GENERATE, json=user_text("hi"), headers=KEY_HEADERS) as response:
            assert response.content_type == "application/json"

    async def test_bad_json_is_400(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A body that is not JSON gets 400 'Invalid JSON payload received.'."""
        status, body = await post_json(session, fake.url + GENERATE, b"{not json")
        assert status == 400
        assert body["error"]["status"] == "INVALID_ARGUMENT"
        assert body["error"]["message"].startswith("Invalid JSON payload received.")

    async def test_non_object_json_is_400(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A JSON array body is rejected like the real API does."""
        status, body = await post_json(session, fake.url + GENERATE, [1, 2])
        assert status == 400 and "Invalid JSON payload received." in body["error"]["message"]

    async def test_empty_contents_is_400(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """No contents is a 400 naming contents."""
        status, body = await post_json(session, fake.url + GENERATE, {"contents": []})
        assert status == 400 and "contents is not specified" in body["error"]["message"]

    async def test_unknown_model_is_404(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """An unknown model is a 404 naming it, the version and the method."""
        status, body = await post_json(
            session, fake.url + "/v1/models/gemini-9:generateContent", user_text("hi")
        )
        assert status == 404
        assert body["error"]["status"] == "NOT_FOUND"
        assert body["error"]["message"].startswith(
            "models/gemini-9 is not found for API version v1, or is not supported for generateContent."
        )

    async def test_embedding_model_cannot_generate(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """generateContent on an embedding model is a 404, as on the real API."""
        status, _ = await post_json(
            session, fake.url + "/v1beta/models/text-embedding-004:generateContent", user_text("x")
        )
        assert status == 404

    async def test_gemini_3_rejects_unsigned_call_history(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """Gemini 3 answers 400 to history whose function call lost its signature; 2.5 accepts it."""
        contents = [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"r": 1}}}]},
        ]
        gemini_3 = fake.url + "/v1beta/models/gemini-3-pro-preview:generateContent"
        status, body = await post_json(session, gemini_3, {"contents": contents})
        assert status == 400 and "thought_signature" in body["error"]["message"]
        status, body = await post_json(session, fake.url + GENERATE, {"contents": contents})
        assert status == 200
        assert body["candidates"][0]["content"]["parts"][0]["text"] == "Got 1 tool results: get_weather"


class TestAuthentication:
    async def test_query_key(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """?key= authenticates and is counted as that key."""
        status, _ = await post_json(session, fake.url + GENERATE + "?key=qk", user_text("hi"), headers={})
        assert status == 200
        assert fake.state.requests_by_key["qk"] == 1

    async def test_header_wins_over_query(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """x-goog-api-key is preferred over ?key=."""
        await post_json(
            session, fake.url + GENERATE + "?key=qk", user_text("hi"), headers={"x-goog-api-key": "hk"}
        )
        assert fake.state.requests_by_key == {"hk": 1}

    @pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer k1"}])
    async def test_no_key_is_403(
        self, fake: RunningFake, session: aiohttp.ClientSession, headers: dict[str, str]
    ) -> None:
        """No API key (a Bearer token does not count on native paths) is 403 unregistered caller."""
        status, body = await post_json(session, fake.url + GENERATE, user_text("hi"), headers=headers)
        assert status == 403
        assert body["error"]["status"] == "PERMISSION_DENIED"
        assert body["error"]["message"].startswith("Method doesn't allow unregistered callers")


class TestStreaming:
    async def test_sse_form(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """alt=sse streams CRLF-framed data: events (3 by default) ending with the finish reason."""
        async with session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("a b c"), headers=KEY_HEADERS
        ) as response:
            assert response.status == 200
            assert response.content_type == "text/event-stream"
            raw = await response.read()
        assert raw.endswith(b"\r\n\r\n") and b"[DONE]" not in raw
        events = sse_events(raw)
        assert len(events) == 3
        assert "".join(e["candidates"][0]["content"]["parts"][0]["text"] for e in events) == "Echo: a b c"
        assert events[-1]["candidates"][0]["finishReason"] == "STOP"

    async def test_array_form(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """Without alt=sse the answer is one JSON array written as [{..}\\r\\n,{..}\\r\\n]."""
        async with session.post(fake.url + STREAM, json=user_text("a b c"), headers=KEY_HEADERS) as response:
            assert response.content_type == "application/json"
            raw = await response.read()
        assert raw.startswith(b"[{") and raw.endswith(b"}\r\n]") and b"}\r\n,{" in raw
        chunks = orjson.loads(raw)
        assert len(chunks) == 3 and chunks[-1]["candidates"][0]["finishReason"] == "STOP"

    async def test_array_form_errors_come_in_a_list(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """An error before an array stream starts is wrapped in a one-element list."""
        status, body = await post_json(session, fake.url + STREAM, {"contents": []})
        assert status == 400
        assert body[0]["error"]["code"] == 400

    async def test_pacing_headers_override_the_scenario(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """x-fake-chunks and x-fake-chunk-delay-ms set the number of chunks and the pause between them."""
        headers = {**KEY_HEADERS, "x-fake-chunks": "100", "x-fake-chunk-delay-ms": "2"}
        started = time.monotonic()
        async with session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("hi"), headers=headers
        ) as response:
            events = sse_events(await response.read())
        assert len(events) == 100
        assert time.monotonic() - started >= 99 * 0.002

    async def test_scenario_pacing(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """stream_chunks and chunk_delay_ms from the scenario shape the stream."""
        fake = await start_fake(FakeConfig(stream_chunks=5, chunk_delay_ms=10))
        started = time.monotonic()
        async with session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("hello"), headers=KEY_HEADERS
        ) as response:
            events = sse_events(await response.read())
        assert len(events) == 5
        assert time.monotonic() - started >= 0.04

    @pytest.mark.parametrize(
        ("name", "value"),
        [("x-fake-chunks", "0"), ("x-fake-chunks", "many"), ("x-fake-chunk-delay-ms", "-1")],
    )
    async def test_bad_pacing_header_is_400(
        self, fake: RunningFake, session: aiohttp.ClientSession, name: str, value: str
    ) -> None:
        """A pacing header that is not a valid number is refused."""
        headers = {**KEY_HEADERS, name: value}
        status, body = await post_json(
            session, fake.url + STREAM + "?alt=sse", user_text("hi"), headers=headers
        )
        assert status == 400 and name in body["error"]["message"]

    async def test_open_streams_counts_live_streams(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """open_streams is 1 while a stream is written and 0 once the client has gone."""
        fake = await start_fake(FakeConfig(stream_chunks=50, chunk_delay_ms=50))
        response = await session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("hi"), headers=KEY_HEADERS
        )
        await response.content.readany()
        assert fake.state.open_streams == 1
        response.close()
        for _ in range(100):
            if fake.state.open_streams == 0:
                break
            await asyncio.sleep(0.01)
        assert fake.state.open_streams == 0

    async def test_open_streams_hold_few_collected_objects(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """A slow stream of 100 chunks holds its frames as bytes, not as nested dicts.

        Objects the garbage collector tracks, per open stream, server and client side
        together: about 140 with the frames rendered up front, over 800 when every chunk's
        dicts stayed alive until sent (a thousand streams made the fake's full
        collections pause it for 300 ms and spoil the load tests' direct figures).
        """
        fake = await start_fake(FakeConfig(stream_chunks=100, chunk_delay_ms=1000))
        gc.collect()
        before = len(gc.get_objects())
        responses = []
        for _ in range(20):
            response = await session.post(
                fake.url + STREAM + "?alt=sse", json=user_text("hello " * 200), headers=KEY_HEADERS
            )
            await response.content.readany()
            responses.append(response)
        gc.collect()
        per_stream = (len(gc.get_objects()) - before) / len(responses)
        assert fake.state.open_streams == 20
        for response in responses:
            response.close()
        assert per_stream < 300


class TestCountTokens:
    async def test_contents_form(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """countTokens with contents counts their words."""
        url = fake.url + "/v1beta/models/gemini-2.5-flash:countTokens"
        status, body = await post_json(session, url, user_text("one two three"))
        assert status == 200
        assert body == {"totalTokens": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}

    async def test_generate_content_request_form(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """countTokens with a whole generateContentRequest counts its contents and system instruction."""
        url = fake.url + "/v1beta/models/gemini-2.5-flash:countTokens"
        request = {
            "model": "models/gemini-2.5-flash",
            **user_text("one two"),
            "systemInstruction": {"parts": [{"text": "be kind"}]},
        }
        status, body = await post_json(session, url, {"generate_content_request": request})
        assert status == 200 and body["totalTokens"] == 4


class TestEmbeddingRoutes:
    async def test_embed_content(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """embedContent returns one vector of the requested size."""
        url = fake.url + "/v1beta/models/gemini-embedding-001:embedContent"
        body = {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16}
        status, answer = await post_json(session, url, body)
        assert status == 200 and len(answer["embedding"]["values"]) == 16

    async def test_batch_embed_contents(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """batchEmbedContents returns one vector per request, text-embedding-004 at 768."""
        url = fake.url + "/v1/models/text-embedding-004:batchEmbedContents"
        requests = [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": t}], "role": "user"}}
            for t in "ab"
        ]
        status, answer = await post_json(session, url, {"requests": requests})
        assert status == 200
        assert [len(e["values"]) for e in answer["embeddings"]] == [768, 768]

    async def test_batch_with_other_model_is_400(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """An inner model different from the URL model is a 400."""
        url = fake.url + "/v1beta/models/text-embedding-004:batchEmbedContents"
        requests = [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}}]
        status, _ = await post_json(session, url, {"requests": requests})
        assert status == 400


class TestModels:
    async def test_list_pages(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """GET models pages with pageSize and pageToken."""
        status, first = await get_json(session, fake.url + "/v1beta/models?pageSize=5")
        assert status == 200 and len(first["models"]) == 5
        status, rest = await get_json(
            session, fake.url + f"/v1beta/models?pageSize=5&pageToken={first['nextPageToken']}"
        )
        assert len(rest["models"]) == 3 and "nextPageToken" not in rest

    async def test_get_model(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """GET models/{model} returns that Model object; an unknown one is 404."""
        status, model = await get_json(session, fake.url + "/v1/models/gemini-embedding-001")
        assert status == 200 and "embedContent" in model["supportedGenerationMethods"]
        status, _ = await get_json(session, fake.url + "/v1beta/models/gemini-0")
        assert status == 404

    async def test_configured_models_only(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """The catalog and the 404s follow the configured model list."""
        fake = await start_fake(FakeConfig(models=("my-model",)))
        _, listing = await get_json(session, fake.url + "/v1beta/models")
        assert [m["name"] for m in listing["models"]] == ["models/my-model"]
        status, _ = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert status == 404

    async def test_unknown_path_is_404(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """A URL no method lives at is a JSON 404."""
        status, body = await get_json(session, fake.url + "/v1beta/files")
        assert status == 404 and body["error"]["status"] == "NOT_FOUND"
