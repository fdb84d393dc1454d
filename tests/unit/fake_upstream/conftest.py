"""Fixtures for the fake upstream's tests: fakes on loopback sockets and one client session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake, start_fake_upstream
from gemini_proxy.fake_upstream.scenario import FakeConfig
from gemini_proxy.fake_upstream.state import FakeState

FakeStarter = Callable[..., Awaitable[RunningFake]]
KEY_HEADERS = {"x-goog-api-key": "k1"}
GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


def user_text(text: str, **extra: Any) -> dict[str, Any]:
    """A generateContent body with one user turn of ``text`` plus any top-level fields."""
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


@pytest.fixture
async def start_fake() -> AsyncIterator[FakeStarter]:
    """Start fakes (``start_fake(config, clock=...)``); all are closed when the test ends."""
    started: list[RunningFake] = []

    async def start(
        config: FakeConfig | None = None, *, clock: Callable[[], float] | None = None
    ) -> RunningFake:
        config = config or FakeConfig()
        state = FakeState(config, clock=clock) if clock is not None else None
        fake = await start_fake_upstream(config, state=state)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        await fake.close()


@pytest.fixture
async def fake(start_fake: FakeStarter) -> RunningFake:
    """A fake with the default scenario."""
    return await start_fake()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP client session for the test."""
    async with aiohttp.ClientSession() as client:
        yield client


async def post_json(
    session: aiohttp.ClientSession,
    url: str,
    body: Any,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """POST ``body`` as JSON; the status and the decoded JSON answer."""
    payload = body if isinstance(body, bytes) else orjson.dumps(body)
    all_headers = {"Content-Type": "application/json", **(KEY_HEADERS if headers is None else headers)}
    async with session.post(url, data=payload, headers=all_headers) as response:
        return response.status, orjson.loads(await response.read())


async def get_json(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """GET ``url``; the status and the decoded JSON answer."""
    async with session.get(url, headers=KEY_HEADERS if headers is None else headers) as response:
        return response.status, orjson.loads(await response.read())


def sse_events(raw: bytes) -> list[Any]:
    """The JSON objects of ``data:`` events in an SSE body."""
    events = []
    for block in raw.split(b"\r\n\r\n"):
        if block.startswith(b"data: "):
            events.append(orjson.loads(block[len(b"data: ") :]))
    return events
