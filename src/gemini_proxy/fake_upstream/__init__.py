"""A fake of the Gemini REST API for tests, the demo and benchmarks (see ``app`` and ``scenario``).

Start one in-process with ``start_fake_upstream(FakeConfig(...))`` and point a client at
its ``url``; steer it with ``Rule``s (per key prefix and model) and read what it saw from
its ``FakeState``.
"""

from __future__ import annotations

from gemini_proxy.fake_upstream.app import FAKE_STATE, create_fake_app
from gemini_proxy.fake_upstream.runner import RunningFake, serve_fake_upstream, start_fake_upstream
from gemini_proxy.fake_upstream.scenario import DEFAULT_MODELS, Behavior, FakeConfig, Rule, load_scenario
from gemini_proxy.fake_upstream.state import FakeState, RecordedRequest

__all__ = [
    "DEFAULT_MODELS",
    "FAKE_STATE",
    "Behavior",
    "FakeConfig",
    "FakeState",
    "RecordedRequest",
    "Rule",
    "RunningFake",
    "create_fake_app",
    "load_scenario",
    "serve_fake_upstream",
    "start_fake_upstream",
]
