"""POST /v1/embeddings through the openai SDK: encodings, dimensions, batching, bad input."""

from __future__ import annotations

import asyncio
import base64
import struct

import openai
import pytest
from openai.types import CreateEmbeddingResponse

from gemini_proxy.fake_upstream.embeddings import embedding_vector
from gemini_proxy.fake_upstream.runner import RunningFake
from tests.conftest import RunningProxy
from tests.integration.openai_sdk import async_client, sync_client, upstream_bodies

MODEL = "gemini-embedding-001"
DIMENSIONS = 3072


def _float32(values: tuple[float, ...]) -> list[float]:
    """``values`` rounded to float32, as base64 transport carries them."""
    return list(struct.unpack(f"<{len(values)}f", struct.pack(f"<{len(values)}f", *values)))


class TestEncodings:
    async def test_float_encoding_is_exact(self, proxy: RunningProxy) -> None:
        """encoding_format float returns the upstream's vectors unchanged, in input order."""
        async with async_client(proxy) as client:
            response = await client.embeddings.create(model=MODEL, input=["a", "b"], encoding_format="float")
        assert [d.index for d in response.data] == [0, 1]
        assert response.data[0].embedding == list(embedding_vector("a", DIMENSIONS))
        assert response.data[1].embedding == list(embedding_vector("b", DIMENSIONS))
        assert response.model == MODEL
        assert response.usage.prompt_tokens == response.usage.total_tokens > 0

    async def test_base64_default_of_the_sync_sdk(self, proxy: RunningProxy) -> None:
        """The SDK's default (base64) decodes to the upstream's vector at float32 precision."""

        def create() -> CreateEmbeddingResponse:
            with sync_client(proxy) as client:
                return client.embeddings.create(model=MODEL, input="hello")

        response = await asyncio.to_thread(create)
        assert response.data[0].embedding == _float32(embedding_vector("hello", DIMENSIONS))

    async def test_base64_on_the_wire(self, proxy: RunningProxy) -> None:
        """Asked for base64 explicitly, each embedding is a base64 string of little-endian float32."""
        async with async_client(proxy) as client:
            raw = await client.embeddings.with_raw_response.create(
                model=MODEL, input="hello", encoding_format="base64"
            )
        encoded = raw.http_response.json()["data"][0]["embedding"]
        assert isinstance(encoded, str)
        decoded = struct.unpack(f"<{DIMENSIONS}f", base64.b64decode(encoded))
        assert list(decoded) == _float32(embedding_vector("hello", DIMENSIONS))


class TestRequestShape:
    async def test_dimensions_become_output_dimensionality(
        self, proxy: RunningProxy, fake: RunningFake
    ) -> None:
        """dimensions=256 is sent as outputDimensionality and vectors have 256 values."""
        async with async_client(proxy) as client:
            response = await client.embeddings.create(
                model=MODEL, input=["x"], dimensions=256, encoding_format="float"
            )
        assert len(response.data[0].embedding) == 256
        sent = upstream_bodies(fake, "batchEmbedContents")[-1]
        assert sent["requests"][0]["outputDimensionality"] == 256

    async def test_many_inputs_are_batched_and_reassembled_in_order(
        self, proxy: RunningProxy, fake: RunningFake
    ) -> None:
        """250 inputs go upstream as batches of 100, 100 and 50 and come back in input order."""
        texts = [f"text number {i}" for i in range(250)]
        async with async_client(proxy) as client:
            response = await client.embeddings.create(
                model="text-embedding-004", input=texts, encoding_format="float"
            )
        assert [d.index for d in response.data] == list(range(250))
        for text, item in zip(texts, response.data, strict=True):
            assert item.embedding == list(embedding_vector(text, 768))
        sizes = sorted(len(body["requests"]) for body in upstream_bodies(fake, "batchEmbedContents"))
        assert sizes == [50, 100, 100]

    async def test_token_ids_are_refused(self, proxy: RunningProxy, fake: RunningFake) -> None:
        """Token-id input cannot be embedded by Gemini: BadRequestError naming input, nothing upstream."""
        async with async_client(proxy) as client:
            with pytest.raises(openai.BadRequestError) as raised:
                await client.embeddings.create(model=MODEL, input=[[1, 2, 3]])
        assert raised.value.param == "input"
        assert sum(fake.state.requests_by_key.values()) == 0

    async def test_root_base_url(self, proxy: RunningProxy) -> None:
        """A client whose base URL is the server root is served at /embeddings."""
        async with async_client(proxy, path="") as client:
            response = await client.embeddings.create(model=MODEL, input="root", encoding_format="float")
        assert len(response.data[0].embedding) == DIMENSIONS

    async def test_unknown_model_is_not_found(self, proxy: RunningProxy) -> None:
        """An embedding model the upstream does not have raises NotFoundError."""
        async with async_client(proxy) as client:
            with pytest.raises(openai.NotFoundError) as raised:
                await client.embeddings.create(model="embedding-0-nonexistent", input="x")
        assert raised.value.code == "model_not_found"
