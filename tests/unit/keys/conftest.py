"""Shared fakes for the key pool tests: a settable clock and pool/spec factories."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.pool import KeyPool

# 2025-06-02 12:00:00 UTC, a Monday in Pacific daylight time (05:00 PDT).
T0 = 1_748_865_600.0


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def secret(n: int) -> str:
    """A fake but realistically shaped Gemini key, distinct for each ``n``."""
    return f"AIzaSyFAKE{n:029d}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def events() -> list[KeyEvent]:
    return []


PoolFactory = Callable[..., KeyPool]


@pytest.fixture
def pool_factory(clock: FakeClock, events: list[KeyEvent]) -> PoolFactory:
    """``pool_factory(n_or_specs, **policy_overrides)``: a pool on the fake clock, seeded RNG."""

    def build(keys: int | Iterable[KeySpec] = 3, **overrides: Any) -> KeyPool:
        specs = [KeySpec(secret(i), name=f"k{i}") for i in range(keys)] if isinstance(keys, int) else keys
        return KeyPool(
            specs, PoolPolicy(**overrides), clock=clock, rng=random.Random(7), on_event=events.append
        )

    return build
