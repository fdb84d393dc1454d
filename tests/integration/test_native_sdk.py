"""The official google-genai SDK against the real proxy and the fake upstream over loopback."""

from __future__ import annotations

import asyncio

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.keys.model import key_id
from tests.conftest import CLIENT_TOKEN, KEYS, RunningProxy

pytestmark = pytest.mark.parametrize("api_version", ["v1", "v1beta"])


def _client(proxy: RunningProxy, api_version: str, token: str = CLIENT_TOKEN) -> genai.Client:
    return genai.Client(
        api_key=token, http_options=types.HttpOptions(base_url=proxy.url, api_version=api_version)
    )


class TestGenaiSdkThroughProxy:
    async def test_generate_content(self, proxy: RunningProxy, fake: RunningFake, api_version: str) -> None:
        """generate_content answers through the proxy, and the upstream saw a pool key."""
        client = _client(proxy, api_version)
        response = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hello there")
        assert response.text is not None and "hello there" in response.text
        assert response.usage_metadata is not None and response.usage_metadata.prompt_token_count
        assert set(fake.state.requests_by_key) <= set(KEYS)
        assert CLIENT_TOKEN not in fake.state.requests_by_key

    async def test_stream(self, proxy: RunningProxy, fake: RunningFake, api_version: str) -> None:
        """generate_content_stream yields several chunks that add up to the answer."""
        client = _client(proxy, api_version)
        chunks = [
            c
            async for c in await client.aio.models.generate_content_stream(
                model="gemini-2.5-flash", contents="stream me"
            )
        ]
        assert len(chunks) >= 2
        assert "stream me" in "".join(c.text or "" for c in chunks)
        assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP

    async def test_count_tokens_and_embed(self, proxy: RunningProxy, api_version: str) -> None:
        """count_tokens and embed_content (sent as batchEmbedContents) work."""
        client = _client(proxy, api_version)
        counted = await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="one two three")
        assert counted.total_tokens and counted.total_tokens >= 3
        embedded = await client.aio.models.embed_content(model="text-embedding-004", contents=["a", "b"])
        assert embedded.embeddings is not None and len(embedded.embeddings) == 2
        assert embedded.embeddings[0].values and len(embedded.embeddings[0].values) == 768

    async def test_models_list_and_get(self, proxy: RunningProxy, api_version: str) -> None:
        """models.list and models.get return Gemini model objects."""
        client = _client(proxy, api_version)
        names = [m.name async for m in await client.aio.models.list()]
        assert "models/gemini-2.5-flash" in names
        model = await client.aio.models.get(model="gemini-2.5-flash")
        assert model.name == "models/gemini-2.5-flash"

    async def test_keys_rotate(self, proxy: RunningProxy, fake: RunningFake, api_version: str) -> None:
        """Eight calls are spread over all four keys (round robin)."""
        client = _client(proxy, api_version)
        for _ in range(8):
            await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        counts = fake.state.requests_by_key
        assert sorted(counts) == sorted(KEYS)
        assert all(count == 2 for count in counts.values())

    async def test_wrong_token_is_client_error_401(self, proxy: RunningProxy, api_version: str) -> None:
        """A wrong client token raises the SDK's ClientError with code 401."""
        client = _client(proxy, api_version, token="wrong-token-123456")
        with pytest.raises(genai_errors.ClientError) as raised:
            await client.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert raised.value.code == 401
        assert raised.value.status == "UNAUTHENTICATED"

    async def test_concurrent_requests(
        self, proxy: RunningProxy, fake: RunningFake, api_version: str
    ) -> None:
        """Twenty concurrent calls all succeed and every key served some."""
        client = _client(proxy, api_version)
        results = await asyncio.gather(
            *(
                client.aio.models.generate_content(model="gemini-2.5-flash", contents=f"n{i}")
                for i in range(20)
            )
        )
        assert all(r.text for r in results)
        assert {key_id(k) for k in fake.state.requests_by_key} == {key_id(k) for k in KEYS}
