"""The official openai SDK pointed at a running proxy, for the ``test_openai_*`` modules."""

from __future__ import annotations

from typing import Any

import orjson
from openai import AsyncOpenAI, OpenAI

from gemini_proxy.fake_upstream.runner import RunningFake
from tests.conftest import CLIENT_TOKEN, RunningProxy


def async_client(proxy: RunningProxy, *, token: str = CLIENT_TOKEN, path: str = "/v1") -> AsyncOpenAI:
    """An ``AsyncOpenAI`` without retries (retries would hide what the proxy answered)."""
    return AsyncOpenAI(base_url=proxy.url + path, api_key=token, max_retries=0)


def sync_client(proxy: RunningProxy, *, token: str = CLIENT_TOKEN, path: str = "/v1") -> OpenAI:
    """An ``OpenAI`` client; use it in ``asyncio.to_thread`` so the proxy's event loop keeps running."""
    return OpenAI(base_url=proxy.url + path, api_key=token, max_retries=0)


def upstream_bodies(fake: RunningFake, method: str) -> list[dict[str, Any]]:
    """The JSON bodies the fake received for an API method (``generateContent``...), oldest first."""
    return [orjson.loads(r.body) for r in fake.state.recorded if r.api_method == method]


def access_events(proxy: RunningProxy) -> list[dict[str, Any]]:
    """The proxy's access log events, oldest first."""
    return [event for event in proxy.log_events() if event.get("event") == "access"]
