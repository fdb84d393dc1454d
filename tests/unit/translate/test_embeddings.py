"""OpenAI embeddings <-> Gemini batchEmbedContents (A.9, C.6, F#47)."""

from __future__ import annotations

import base64
import struct
from array import array
from typing import Any

import pytest

from gemini_proxy.errors import InvalidRequest, UpstreamError
from gemini_proxy.translate.embeddings import (
    MAX_BATCH_SIZE,
    EmbeddingCall,
    embeddings_to_gemini,
    encode_base64_floats,
    gemini_to_embeddings,
)
from gemini_proxy.translate.options import TranslateOptions


def translate(**body: Any) -> EmbeddingCall:
    return embeddings_to_gemini({"model": "gemini-embedding-001", **body}, TranslateOptions())


def responses_for(call: EmbeddingCall) -> list[dict[str, Any]]:
    """Fake upstream answers: the i-th input embeds as [i, i + 0.5]."""
    counter = 0
    responses = []
    for batch in call.batches:
        embeddings = []
        for _ in batch["requests"]:
            embeddings.append({"values": [float(counter), counter + 0.5]})
            counter += 1
        responses.append({"embeddings": embeddings})
    return responses


class TestRequest:
    """F#47: the request side."""

    def test_single_string(self) -> None:
        """C.6: one string becomes one request in one batch, model in models/ form."""
        call = translate(input="hello")
        assert call.batches == [
            {
                "requests": [
                    {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "hello"}]}}
                ]
            }
        ]
        assert call.upstream_path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
        assert call.encoding_format == "float"

    def test_dimensions_become_output_dimensionality(self) -> None:
        """F#47: dimensions is sent as outputDimensionality on every request."""
        call = translate(input=["a", "b"], dimensions=768)
        assert [r["outputDimensionality"] for r in call.batches[0]["requests"]] == [768, 768]

    @pytest.mark.parametrize(("count", "sizes"), [(100, [100]), (101, [100, 1]), (250, [100, 100, 50])])
    def test_large_input_split_into_batches(self, count: int, sizes: list[int]) -> None:
        """F#47: more than 100 inputs are split into batches of at most 100, in order."""
        call = translate(input=[f"t{i}" for i in range(count)])
        assert [len(b["requests"]) for b in call.batches] == sizes
        texts = [r["content"]["parts"][0]["text"] for b in call.batches for r in b["requests"]]
        assert texts == [f"t{i}" for i in range(count)]
        assert max(sizes) <= MAX_BATCH_SIZE

    def test_model_alias_and_default(self) -> None:
        """F#48: aliases and prefixes apply; no model means the default embedding model."""
        options = TranslateOptions(aliases={"text-embedding-3-small": "gemini-embedding-001"})
        assert (
            embeddings_to_gemini({"model": "text-embedding-3-small", "input": "a"}, options).model
            == "gemini-embedding-001"
        )
        assert embeddings_to_gemini({"input": "a"}, options).model == "gemini-embedding-001"
        assert (
            embeddings_to_gemini({"model": "models/text-embedding-004", "input": "a"}, options).model
            == "text-embedding-004"
        )

    @pytest.mark.parametrize(
        ("body", "param"),
        [
            ({"input": [1, 2, 3]}, "input"),
            ({"input": [[1, 2], [3]]}, "input"),
            ({"input": []}, "input"),
            ({"input": ""}, "input[0]"),
            ({"input": ["a", "  "]}, "input[1]"),
            ({"input": ["a", None]}, "input[1]"),
            ({}, "input"),
            ({"input": 5}, "input"),
            ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
            ({"input": "a", "dimensions": 0}, "dimensions"),
            ({"input": "a", "model": 3}, "model"),
        ],
    )
    def test_invalid_input_is_400(self, body: dict[str, Any], param: str) -> None:
        """F#47: token-id inputs, empty input and bad fields are a 400 naming the field."""
        with pytest.raises(InvalidRequest) as raised:
            translate(**body)
        assert raised.value.param == param


class TestResponse:
    """F#47: the response side."""

    def test_float_response_in_order_across_batches(self) -> None:
        """F#47: embeddings are reassembled in input order across batches."""
        call = translate(input=[f"t{i}" for i in range(150)])
        result = gemini_to_embeddings(responses_for(call), call)
        assert result["object"] == "list"
        assert result["model"] == "gemini-embedding-001"
        assert [d["index"] for d in result["data"]] == list(range(150))
        assert result["data"][120] == {"object": "embedding", "index": 120, "embedding": [120.0, 120.5]}
        assert (
            result["usage"]["prompt_tokens"] == result["usage"]["total_tokens"] == call.estimated_tokens > 0
        )

    def test_base64_round_trip(self) -> None:
        """C.6: base64 is little-endian float32 that decodes the way the openai SDK does."""
        call = translate(input=["a", "b"], encoding_format="base64")
        result = gemini_to_embeddings(responses_for(call), call)
        decoded = array("f", base64.b64decode(result["data"][1]["embedding"]))
        assert list(decoded) == [1.0, 1.5]

    def test_base64_is_little_endian(self) -> None:
        """C.6: the byte layout is '<f' regardless of the machine."""
        assert base64.b64decode(encode_base64_floats([1.0])) == struct.pack("<f", 1.0)

    @pytest.mark.parametrize(
        "responses",
        [[{"embeddings": [{"values": [1.0]}]}], [{}], [{"embeddings": [{"nope": 1}, {"values": [1.0]}]}]],
    )
    def test_upstream_mismatch_is_upstream_error(self, responses: list[dict[str, Any]]) -> None:
        """A malformed or short upstream answer is an upstream error, not a crash."""
        call = translate(input=["a", "b"])
        with pytest.raises(UpstreamError):
            gemini_to_embeddings(responses, call)
