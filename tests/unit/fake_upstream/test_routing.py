"""Routing request URLs to Gemini methods by hand, %3A colons included."""

from __future__ import annotations

import pytest

from gemini_proxy.fake_upstream.routing import ApiMethod, Route, resolve_route


class TestResolveRoute:
    @pytest.mark.parametrize(
        ("method", "path", "route"),
        [
            (
                "POST",
                "/v1beta/models/gemini-2.5-flash:generateContent",
                Route(ApiMethod.GENERATE_CONTENT, "v1beta", "models", "gemini-2.5-flash"),
            ),
            (
                "POST",
                "/v1/models/gemini-2.5-flash%3AstreamGenerateContent",
                Route(ApiMethod.STREAM_GENERATE_CONTENT, "v1", "models", "gemini-2.5-flash"),
            ),
            (
                "POST",
                "/v1beta/models/gemini-2.5-flash%3acountTokens",
                Route(ApiMethod.COUNT_TOKENS, "v1beta", "models", "gemini-2.5-flash"),
            ),
            (
                "POST",
                "/v1beta/tunedModels/my-model:generateContent",
                Route(ApiMethod.GENERATE_CONTENT, "v1beta", "tunedModels", "my-model"),
            ),
            (
                "POST",
                "/v1beta/models/text-embedding-004:embedContent",
                Route(ApiMethod.EMBED_CONTENT, "v1beta", "models", "text-embedding-004"),
            ),
            (
                "POST",
                "/v1beta/models/text-embedding-004:batchEmbedContents",
                Route(ApiMethod.BATCH_EMBED_CONTENTS, "v1beta", "models", "text-embedding-004"),
            ),
            ("GET", "/v1beta/models", Route(ApiMethod.LIST_MODELS, "v1beta")),
            ("GET", "/v1/models/", Route(ApiMethod.LIST_MODELS, "v1")),
            (
                "GET",
                "/v1/models/gemini-2.5-pro",
                Route(ApiMethod.GET_MODEL, "v1", "models", "gemini-2.5-pro"),
            ),
            ("POST", "/v1beta/openai/chat/completions", Route(ApiMethod.OPENAI_CHAT_COMPLETIONS)),
            ("GET", "/v1beta/openai/models", Route(ApiMethod.OPENAI_LIST_MODELS)),
            (
                "GET",
                "/v1beta/openai/models/models/gemini-2.5-pro",
                Route(ApiMethod.OPENAI_GET_MODEL, model="gemini-2.5-pro"),
            ),
            ("POST", "/v1beta/openai/embeddings", Route(ApiMethod.OPENAI_EMBEDDINGS)),
        ],
    )
    def test_known_paths(self, method: str, path: str, route: Route) -> None:
        """Each supported URL form resolves to its method, version and model."""
        assert resolve_route(method, path) == route

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/v1beta/models/gemini-2.5-flash:fooBar"),
            ("POST", "/v1beta/models/gemini-2.5-flash:listModels"),
            ("GET", "/v1beta/models/gemini-2.5-flash:generateContent"),
            ("POST", "/v2/models/gemini-2.5-flash:generateContent"),
            ("POST", "/v1beta/models"),
            ("GET", "/"),
            ("DELETE", "/v1beta/models/gemini-2.5-flash"),
        ],
    )
    def test_unknown_paths(self, method: str, path: str) -> None:
        """Unknown methods, versions and verbs resolve to nothing (404)."""
        assert resolve_route(method, path) is None

    def test_route_properties(self) -> None:
        """A route knows its resource name and whether it is on the OpenAI layer."""
        assert (
            Route(ApiMethod.GENERATE_CONTENT, collection="tunedModels", model="m").resource == "tunedModels/m"
        )
        assert Route(ApiMethod.OPENAI_EMBEDDINGS).is_openai
        assert not Route(ApiMethod.LIST_MODELS).is_openai
