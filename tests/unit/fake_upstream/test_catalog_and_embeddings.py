"""The model catalog with paging, and the deterministic embeddings."""

from __future__ import annotations

import math

import pytest

from gemini_proxy.fake_upstream import catalog, embeddings
from gemini_proxy.fake_upstream.google_errors import GoogleError
from gemini_proxy.fake_upstream.scenario import DEFAULT_MODELS


class TestCatalog:
    def test_generation_model_object(self) -> None:
        """A generation model lists generateContent and its A.10 fields."""
        model = catalog.model_object("gemini-2.5-flash")
        assert model["name"] == "models/gemini-2.5-flash"
        assert "generateContent" in model["supportedGenerationMethods"]
        assert model["thinking"] is True
        assert model["inputTokenLimit"] > 0 and model["outputTokenLimit"] > 0

    def test_embedding_model_object(self) -> None:
        """An embedding model lists embedContent and batchEmbedContents, not generateContent."""
        methods = catalog.model_object("gemini-embedding-001")["supportedGenerationMethods"]
        assert {"embedContent", "batchEmbedContents"} <= set(methods)
        assert "generateContent" not in methods

    @pytest.mark.parametrize(
        ("model", "method", "served"),
        [
            ("gemini-2.5-flash", "streamGenerateContent", True),
            ("gemini-2.5-flash", "embedContent", False),
            ("text-embedding-004", "batchEmbedContents", True),
            ("text-embedding-004", "generateContent", False),
        ],
    )
    def test_supports(self, model: str, method: str, served: bool) -> None:
        """Generation models generate and stream; embedding models embed."""
        assert catalog.supports(model, method) is served

    def test_paging_walks_every_model_once(self) -> None:
        """pageSize pages with nextPageToken until the last page, which has none."""
        seen: list[str] = []
        token: str | None = None
        for _ in range(len(DEFAULT_MODELS)):
            page = catalog.list_models(DEFAULT_MODELS, "3", token)
            assert not isinstance(page, GoogleError)
            seen += [m["name"] for m in page["models"]]
            token = page.get("nextPageToken")
            if token is None:
                break
        assert seen == [f"models/{m}" for m in DEFAULT_MODELS]

    def test_default_page_holds_all_default_models(self) -> None:
        """Without pageSize the first page (50) holds every default model and no token."""
        page = catalog.list_models(DEFAULT_MODELS, None, None)
        assert not isinstance(page, GoogleError)
        assert len(page["models"]) == len(DEFAULT_MODELS) and "nextPageToken" not in page

    @pytest.mark.parametrize(("size", "token"), [("ten", None), ("-1", None), ("5", "not-a-token!")])
    def test_bad_paging_is_400(self, size: str, token: str | None) -> None:
        """A bad pageSize or pageToken is a 400."""
        result = catalog.list_models(DEFAULT_MODELS, size, token)
        assert isinstance(result, GoogleError) and result.status == 400


class TestEmbeddings:
    def test_vectors_are_unit_length_and_deterministic(self) -> None:
        """Equal texts embed equally, different texts differently, all with norm 1."""
        a, again, b = (embeddings.embedding_vector(t, 64) for t in ("a", "a", "b"))
        assert a == again and a != b
        assert math.isclose(math.fsum(v * v for v in a), 1.0)

    def test_shorter_vectors_are_renormalised_prefixes(self) -> None:
        """A smaller dimensionality is the same direction's prefix, as MRL embeddings are."""
        full, short = embeddings.embedding_vector("t", 3072), embeddings.embedding_vector("t", 8)
        scale = short[0] / full[0]
        assert all(math.isclose(s, f * scale) for s, f in zip(short, full[:8], strict=True))

    @pytest.mark.parametrize(("model", "size"), [("gemini-embedding-001", 3072), ("text-embedding-004", 768)])
    def test_default_dimensions(self, model: str, size: int) -> None:
        """gemini-embedding-001 gives 3072 values by default, text-embedding-004 768."""
        result = embeddings.embed_content({"content": {"parts": [{"text": "hi"}]}}, model)
        assert not isinstance(result, GoogleError)
        assert len(result["embedding"]["values"]) == size

    def test_batch_keeps_order_and_dimensionality(self) -> None:
        """batchEmbedContents embeds each request in order with its outputDimensionality."""
        requests = [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": t}]},
                "output_dimensionality": 4,
            }
            for t in ("a", "b")
        ]
        result = embeddings.batch_embed_contents({"requests": requests}, "gemini-embedding-001")
        assert not isinstance(result, GoogleError)
        assert [e["values"] for e in result["embeddings"]] == [
            list(embeddings.embedding_vector(t, 4)) for t in ("a", "b")
        ]

    @pytest.mark.parametrize(
        "body",
        [
            {"requests": [{"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}}]},
            {"requests": [{"content": {"parts": [{"text": "a"}]}}]},
            {"requests": []},
            {
                "requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}}]
                * 101
            },
            {"requests": [{"model": "models/gemini-embedding-001"}]},
            {
                "requests": [
                    {
                        "model": "models/gemini-embedding-001",
                        "content": {"parts": [{"text": "a"}]},
                        "outputDimensionality": 4000,
                    }
                ]
            },
        ],
    )
    def test_bad_batches_are_400(self, body: dict[str, object]) -> None:
        """A mismatched or missing inner model, an empty or oversized batch, no content, or too many dimensions: 400."""
        result = embeddings.batch_embed_contents(body, "gemini-embedding-001")
        assert isinstance(result, GoogleError) and result.status == 400
