"""Shared fixtures: small named factories for settings, the fake upstream and a running proxy."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from gemini_proxy.app import create_app, start_server
from gemini_proxy.config import Settings, load_settings
from gemini_proxy.fake_upstream.runner import RunningFake, start_fake_upstream
from gemini_proxy.fake_upstream.scenario import FakeConfig

CLIENT_TOKEN = "client-token-0123456789"
ADMIN_TOKEN = "admin-token-9876543210"
# Realistic-looking fake keys: the redaction tests search output for these exact values.
KEYS = [f"AIzaSyTEST{i:02d}abcdefghijklmnopqrstuvwx{i:02d}" for i in range(1, 5)]


def make_settings(**sections: Any) -> Settings:
    """Settings for tests: four keys, one client token, an admin token, memory state."""
    base: dict[str, Any] = {
        "auth": {"client_tokens": [{"name": "tests", "token": CLIENT_TOKEN}], "admin_token": ADMIN_TOKEN},
        "keys": [{"key": key, "name": f"key-{i}"} for i, key in enumerate(KEYS, start=1)],
        "state": {"path": None},
        "upstream": {"base_url": "http://127.0.0.1:9", "connect_timeout_s": 2, "request_timeout_s": 10},
    }
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(name), dict):
            base[name] = {**base[name], **value}
        else:
            base[name] = value
    return load_settings(None, {}, **base)


@dataclass
class RunningProxy:
    """A proxy app served on a real loopback socket."""

    url: str
    app: web.Application
    runner: web.AppRunner
    log: io.StringIO = field(default_factory=io.StringIO)

    def log_events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]


ProxyFactory = Callable[..., Awaitable[RunningProxy]]
FakeFactory = Callable[..., Awaitable[RunningFake]]


@pytest.fixture
async def fake_factory() -> AsyncIterator[FakeFactory]:
    """Start fake upstreams on loopback; all are closed at the end of the test."""
    started: list[RunningFake] = []

    async def start(config: FakeConfig | None = None) -> RunningFake:
        fake = await start_fake_upstream(config or FakeConfig())
        started.append(fake)
        return fake

    yield start
    for fake in started:
        await fake.close()


@pytest.fixture
async def proxy_factory() -> AsyncIterator[ProxyFactory]:
    """Start proxies (real app, real socket); ``settings`` or section overrides."""
    started: list[RunningProxy] = []

    async def start(settings: Settings | None = None, *, seed: int = 7, **sections: Any) -> RunningProxy:
        settings = settings or make_settings(**sections)
        log = io.StringIO()
        app = create_app(settings, rng=random.Random(seed), log_stream=log)
        runner, port = await start_server(app)
        proxy = RunningProxy(f"http://127.0.0.1:{port}", app, runner, log)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        await proxy.runner.cleanup()


@pytest.fixture
async def fake(fake_factory: FakeFactory) -> RunningFake:
    """One fake upstream with default behaviour."""
    return await fake_factory()


@pytest.fixture
async def proxy(proxy_factory: ProxyFactory, fake: RunningFake) -> RunningProxy:
    """A proxy in front of ``fake``."""
    return await proxy_factory(upstream={"base_url": fake.url})
