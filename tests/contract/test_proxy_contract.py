"""The proxy's client-facing answers (native Gemini, OpenAI, operations, errors) fit
``contracts/proxy-api.yaml``: real app, real socket, the fake upstream behind it."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, FakeFactory, ProxyFactory, RunningProxy
from tests.contract.openapi import proxy_contract

GEMINI = {"x-goog-api-key": CLIENT_TOKEN, "Content-Type": "application/json"}
OPENAI = {"Authorization": f"Bearer {CLIENT_TOKEN}", "Content-Type": "application/json"}
CONTENTS = {"contents": [{"parts": [{"text": "hello"}]}]}


async def _call(
    proxy: RunningProxy, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    """Call the proxy and check the answer against the contract; (status, decoded body, headers)."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            f"{proxy.url}{path}",
            data=None if body is None else orjson.dumps(body),
            headers=headers,
        ) as response,
    ):
        payload = await response.read()
        content_type = response.headers.get("Content-Type", "")
        route = path.split("?", 1)[0]
        decoded = proxy_contract().check(method, route, response.status, content_type, payload)
        assert response.headers.get("X-Request-ID"), "every answer carries X-Request-ID"
        return response.status, decoded, dict(response.headers)


class TestGeminiNative:
    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/v1beta/models/gemini-2.5-flash:generateContent", CONTENTS),
            ("/v1beta/models/gemini-2.5-flash:countTokens", CONTENTS),
            ("/v1beta/models/gemini-embedding-001:embedContent", {"content": {"parts": [{"text": "hi"}]}}),
            (
                "/v1beta/models/gemini-embedding-001:batchEmbedContents",
                {
                    "requests": [
                        {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": t}]}}
                        for t in ("a", "b")
                    ]
                },
            ),
        ],
        ids=["generateContent", "countTokens", "embedContent", "batchEmbedContents"],
    )
    async def test_model_methods(self, proxy: RunningProxy, path: str, body: Any) -> None:
        """Each native model method answers 200 with the documented body."""
        status, _, _ = await _call(proxy, "POST", path, GEMINI, body)
        assert status == 200

    async def test_streams(self, proxy: RunningProxy) -> None:
        """Both stream forms answer with their documented media type; the array form parses."""
        path = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
        status, text, _ = await _call(proxy, "POST", f"{path}?alt=sse", GEMINI, CONTENTS)
        assert status == 200 and text.startswith("data: ")
        status, chunks, _ = await _call(proxy, "POST", path, GEMINI, CONTENTS)
        assert status == 200 and len(chunks) >= 1

    async def test_models(self, proxy: RunningProxy) -> None:
        """The native model list and one model fit the contract."""
        status, listing, _ = await _call(proxy, "GET", "/v1beta/models", GEMINI)
        assert status == 200 and listing["models"]
        status, model, _ = await _call(proxy, "GET", "/v1beta/models/gemini-2.5-flash", GEMINI)
        assert status == 200 and model["name"] == "models/gemini-2.5-flash"

    async def test_errors_are_in_gemini_format(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """401 without a token, the upstream's 404, and 429 when every key is cooling."""
        fake = await fake_factory(
            FakeConfig(rules=(Rule(model="gemini-2.5-pro", behavior=Behavior.RATE_MINUTE),))
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        status, error, _ = await _call(proxy, "POST", path, {"Content-Type": "application/json"}, CONTENTS)
        assert status == 401 and error["error"]["status"] == "UNAUTHENTICATED"
        status, error, _ = await _call(
            proxy, "POST", "/v1beta/models/no-such-model:generateContent", GEMINI, CONTENTS
        )
        assert status == 404
        status, error, headers = await _call(
            proxy, "POST", "/v1beta/models/gemini-2.5-pro:generateContent", GEMINI, CONTENTS
        )
        assert status == 429 and error["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert int(headers["Retry-After"]) >= 1


class TestOpenAI:
    async def test_chat_completion_and_stream(self, proxy: RunningProxy) -> None:
        """A chat completion fits; a streamed one is an event stream."""
        body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
        status, completion, _ = await _call(proxy, "POST", "/v1/chat/completions", OPENAI, body)
        assert status == 200 and completion["choices"][0]["message"]["role"] == "assistant"
        status, text, _ = await _call(proxy, "POST", "/v1/chat/completions", OPENAI, {**body, "stream": True})
        assert status == 200 and "data: [DONE]" in text

    async def test_models_in_both_formats(self, proxy: RunningProxy) -> None:
        """/v1/models answers OpenAI's list to Bearer callers and Gemini's to x-goog-api-key callers."""
        status, listing, _ = await _call(proxy, "GET", "/v1/models", OPENAI)
        assert status == 200 and listing["object"] == "list"
        status, listing, _ = await _call(proxy, "GET", "/v1/models", GEMINI)
        assert status == 200 and "models" in listing
        status, model, _ = await _call(proxy, "GET", "/v1/models/gemini-2.5-flash", OPENAI)
        assert status == 200 and model["object"] == "model"

    async def test_embeddings(self, proxy: RunningProxy) -> None:
        """Embeddings fit, as floats and as base64."""
        body = {"model": "gemini-embedding-001", "input": ["a", "b"]}
        status, result, _ = await _call(proxy, "POST", "/v1/embeddings", OPENAI, body)
        assert status == 200 and [d["index"] for d in result["data"]] == [0, 1]
        status, result, _ = await _call(
            proxy, "POST", "/v1/embeddings", OPENAI, {**body, "encoding_format": "base64"}
        )
        assert status == 200 and isinstance(result["data"][0]["embedding"], str)

    async def test_errors_are_in_openai_format(self, proxy: RunningProxy) -> None:
        """401 without a token and 400 for a bad body come in OpenAI's error format."""
        body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
        status, error, _ = await _call(
            proxy, "POST", "/v1/chat/completions", {"Content-Type": "application/json"}, body
        )
        assert status == 401 and error["error"]["type"] == "authentication_error"
        status, error, _ = await _call(
            proxy, "POST", "/v1/chat/completions", OPENAI, {"model": "gemini-2.5-flash"}
        )
        assert status == 400 and error["error"]["type"] == "invalid_request_error"


class TestOperations:
    async def test_health_readiness_and_metrics(self, proxy: RunningProxy) -> None:
        """/healthz, /readyz and /metrics fit the contract."""
        assert (await _call(proxy, "GET", "/healthz", {}))[:2] == (200, {"status": "ok"})
        status, ready, _ = await _call(proxy, "GET", "/readyz", {})
        assert status == 200 and ready["status"] == "ready"
        status, text, headers = await _call(proxy, "GET", "/metrics", {})
        assert status == 200 and "gemini_proxy_requests_total" in text
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")

    async def test_protected_metrics(self, proxy_factory: ProxyFactory, fake_factory: FakeFactory) -> None:
        """With metrics.require_admin_token, /metrics is 401 without the admin token."""
        fake = await fake_factory()
        proxy = await proxy_factory(upstream={"base_url": fake.url}, metrics={"require_admin_token": True})
        status, _, _ = await _call(proxy, "GET", "/metrics", {})
        assert status == 401
        status, _, _ = await _call(proxy, "GET", "/metrics", {"Authorization": f"Bearer {CLIENT_TOKEN}"})
        assert status == 401
        status, text, _ = await _call(proxy, "GET", "/metrics", {"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert status == 200 and "gemini_proxy_keys" in text
