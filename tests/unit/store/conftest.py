"""Fixtures of the store tests: a harness per backend, sample records, a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gemini_proxy.store.base import StateStore
from gemini_proxy.store.records import (
    AddedKeyRecord,
    CooldownRecord,
    KeyStateRecord,
    PoolSnapshot,
    UsageRecord,
)

from .harness import HARNESS_BUILDERS, PERSISTENT_BACKENDS, SECRET, START, FakeClock, StoreHarness


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def _harness(name: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[StoreHarness]:
    folder = tmp_path / name
    folder.mkdir()
    harness = HARNESS_BUILDERS[name](folder, clock)
    yield harness
    for store in harness.opened:
        await store.close()
    harness.cleanup()


@pytest.fixture(params=sorted(HARNESS_BUILDERS))
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StoreHarness]:
    async for opened in _harness(request.param, tmp_path, clock):
        yield opened


@pytest.fixture(params=PERSISTENT_BACKENDS)
async def persistent_harness(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[StoreHarness]:
    async for opened in _harness(request.param, tmp_path, clock):
        yield opened


@pytest.fixture
def store(harness: StoreHarness) -> StateStore:
    return harness.open()


@pytest.fixture
def added_key() -> AddedKeyRecord:
    """An added key with every field set away from its default."""
    return AddedKeyRecord(
        key_id="a1b2c3d4e5f6",
        secret=SECRET,
        name="team-b",
        project="proj-7",
        weight=2.5,
        limits={"rpm": 10, "per_model": {"gemini-2.5-pro": {"rpd": 50}}},
        added_at=START - 60,
    )


@pytest.fixture
def full_snapshot(added_key: AddedKeyRecord) -> PoolSnapshot:
    """Every record type, every field away from its default, records out of natural order."""
    return PoolSnapshot(
        keys=(
            KeyStateRecord(
                key_id="ffff00000002",
                disabled=True,
                disabled_reason="API_KEY_INVALID",
                disabled_at=START - 300,
                next_probe_at=START + 600,
                probe_failures=2,
                breaker_state="open",
                breaker_level=3,
                consecutive_failures=4,
                open_until=START + 16.5,
                health=0.25,
                requests=1200,
                failures=31,
                last_error="http_503",
                last_error_at=START - 5,
                updated_at=START - 1,
            ),
            KeyStateRecord(key_id="aaaa00000001", health=0.875, requests=7, updated_at=START - 2),
        ),
        cooldowns=(
            CooldownRecord("ffff00000002", "gemini-2.5-pro", START + 3600, "per_day_quota", per_day=True),
            CooldownRecord("aaaa00000001", "gemini-2.5-flash", START + 30.25, "per_minute_quota"),
        ),
        usage=(
            UsageRecord("aaaa00000001", "gemini-2.5-flash", "minute", START - 30, requests=9, tokens=4096),
            UsageRecord("aaaa00000001", "gemini-2.5-flash", "day", START - 66600, requests=140, tokens=9001),
        ),
        added_keys=(added_key,),
    )
