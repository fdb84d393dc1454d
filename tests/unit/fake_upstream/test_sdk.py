"""The official google-genai SDK against the fake: the shapes it sends and parses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from google import genai
from google.genai import errors, types

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from tests.unit.fake_upstream.conftest import FakeStarter

ClientFor = Callable[[RunningFake], genai.Client]


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFor]:
    """Make google-genai clients (v1beta, key ``k1``) for fakes; all are closed after the test."""
    made: list[genai.Client] = []

    def make(fake: RunningFake) -> genai.Client:
        sdk = genai.Client(api_key="k1", http_options={"base_url": fake.url, "api_version": "v1beta"})
        made.append(sdk)
        return sdk

    yield make
    for sdk in made:
        await sdk.aio.aclose()


@pytest.fixture
def client(fake: RunningFake, client_for: ClientFor) -> genai.Client:
    """A google-genai client pointed at the default fake."""
    return client_for(fake)


class TestGoogleGenaiSdk:
    async def test_generate_content(self, client: genai.Client) -> None:
        """generate_content parses the echo, the usage and the finish reason."""
        response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hello there")
        assert response.text == "Echo: hello there"
        assert response.candidates is not None
        assert response.candidates[0].finish_reason == types.FinishReason.STOP
        assert response.usage_metadata is not None
        assert response.usage_metadata.prompt_token_count == 2
        assert response.usage_metadata.thoughts_token_count

    async def test_generate_content_stream(self, client: genai.Client) -> None:
        """generate_content_stream yields the deltas that join to the whole answer."""
        stream = await client.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="stream me"
        )
        texts = [chunk.text async for chunk in stream]
        assert len(texts) == 3
        assert "".join(t or "" for t in texts) == "Echo: stream me"

    async def test_function_call(self, client: genai.Client) -> None:
        """A declared function comes back as a parsed function call with typed placeholder args."""
        declaration = types.FunctionDeclaration(
            name="get_weather",
            parameters=types.Schema(
                type=types.Type.OBJECT, properties={"city": types.Schema(type=types.Type.STRING)}
            ),
        )
        response = await client.aio.models.generate_content(
            model="gemini-3-flash-preview",
            contents="weather in Paris?",
            config=types.GenerateContentConfig(tools=[types.Tool(function_declarations=[declaration])]),
        )
        assert response.function_calls is not None
        assert response.function_calls[0].name == "get_weather"
        assert response.function_calls[0].args == {"city": "x"}

    async def test_count_tokens(self, client: genai.Client) -> None:
        """count_tokens reads totalTokens."""
        response = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="one two three")
        assert response.total_tokens == 3

    async def test_embed_content(self, client: genai.Client) -> None:
        """embed_content (sent as batchEmbedContents) parses one vector per input."""
        response = await client.aio.models.embed_content(
            model="gemini-embedding-001",
            contents=["a", "b"],
            config=types.EmbedContentConfig(output_dimensionality=8),
        )
        assert response.embeddings is not None
        assert [len(e.values or []) for e in response.embeddings] == [8, 8]

    async def test_models_list(self, client: genai.Client) -> None:
        """models.list pages through every model."""
        pager = await client.aio.models.list(config={"page_size": 3})
        names = [model.name async for model in pager]
        assert "models/gemini-2.5-flash" in names
        assert len(names) == 8

    async def test_error_is_raised_as_client_error(
        self, start_fake: FakeStarter, client_for: ClientFor
    ) -> None:
        """A 429 body parses into the SDK's ClientError with code and status."""
        fake = await start_fake(FakeConfig(rules=(Rule(behavior=Behavior.RATE_MINUTE),)))
        sdk = client_for(fake)
        with pytest.raises(errors.ClientError) as raised:
            await sdk.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert raised.value.code == 429
        assert raised.value.status == "RESOURCE_EXHAUSTED"

    async def test_error_written_into_a_stream_is_raised(
        self, start_fake: FakeStarter, client_for: ClientFor
    ) -> None:
        """The SDK picks the raw error object out of the SSE body and raises ServerError."""
        fake = await start_fake(FakeConfig(rules=(Rule(behavior=Behavior.STREAM_ERROR),)))
        sdk = client_for(fake)
        stream = await sdk.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="hi there")
        with pytest.raises(errors.ServerError) as raised:
            _ = [chunk async for chunk in stream]
        assert raised.value.code == 500
