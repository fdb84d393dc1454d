"""The real CLI in a child process: graceful shutdown, restarts, crashes and broken state files."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory
from tests.integration.proc import ProxyProcess, free_port, write_config

BODY = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
FLASH = "/v1beta/models/gemini-2.5-flash:generateContent"
PRO = "/v1beta/models/gemini-2.5-pro:generateContent"
FAULTS = FakeConfig(
    rules=(
        Rule(key_prefix=KEYS[0], behavior=Behavior.INVALID_KEY),
        Rule(key_prefix=KEYS[1], model="gemini-2.5-flash", behavior=Behavior.RATE_DAY),
    )
)


async def _send(url: str, path: str, n: int) -> list[int]:
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            async with session.post(
                url + path, data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
            ) as response:
                await response.read()
                statuses.append(response.status)
    return statuses


async def _start(config: Path, port: int, log: Path) -> ProxyProcess:
    proxy = ProxyProcess(config, port, log)
    await proxy.ready()
    return proxy


async def _break_two_keys(proxy: ProxyProcess) -> None:
    """Drive traffic until key 1 is disabled and key 2 is cooling for gemini-2.5-flash."""
    statuses = await _send(proxy.url, FLASH, 8)
    assert statuses == [200] * 8
    kinds = {(e["event"], e.get("key_id")) for e in proxy.log_events()}
    assert ("key_disabled", key_id(KEYS[0])) in kinds
    assert ("key_cooled", key_id(KEYS[1])) in kinds


async def _assert_two_keys_still_out(proxy: ProxyProcess, fake: RunningFake) -> None:
    fake.state.reset()
    assert await _send(proxy.url, FLASH, 8) == [200] * 8
    assert fake.state.requests_by_key[KEYS[0]] == 0, "the disabled key got traffic after the restart"
    assert fake.state.requests_by_key[KEYS[1]] == 0, "the cooling key got traffic for its cooled model"
    assert await _send(proxy.url, PRO, 3) == [200] * 3
    assert fake.state.requests_by_key[KEYS[1]] >= 1, "the cooldown must be for one model only"


@pytest.fixture
async def faulty(fake_factory: FakeFactory) -> RunningFake:
    return await fake_factory(FAULTS)


class TestGracefulShutdown:
    async def test_sigterm_lets_stream_finish_then_exits_0(
        self, tmp_path: Path, fake_factory: FakeFactory
    ) -> None:
        """SIGTERM mid-stream: the stream completes, new connections are refused, exit status 0."""
        fake = await fake_factory(FakeConfig(stream_chunks=10, chunk_delay_ms=100))
        port = free_port()
        proxy = await _start(write_config(tmp_path, fake.url, port), port, tmp_path / "log")
        try:
            async with aiohttp.ClientSession() as session:
                response = await session.post(
                    f"{proxy.url}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                    data=BODY,
                    headers={"x-goog-api-key": CLIENT_TOKEN},
                )
                first = await response.content.readany()
                assert first.startswith(b"data: ")
                proxy.terminate()
                rest = await response.read()
                events = [line for line in (first + rest).split(b"\n") if line.startswith(b"data: ")]
                assert len(events) == 10
                assert b'"finishReason"' in events[-1]
            assert await proxy.wait() == 0
            names = [e["event"] for e in proxy.log_events()]
            assert "proxy_stopped" in names
        finally:
            proxy.close()


class TestRestartRestoresState:
    async def test_sigterm_then_restart_restores_disabled_and_cooling(
        self, tmp_path: Path, faulty: RunningFake
    ) -> None:
        """A disabled key and a key cooling for one model stay so across a clean restart."""
        port = free_port()
        config = write_config(tmp_path, faulty.url, port)
        proxy = await _start(config, port, tmp_path / "log1")
        try:
            await _break_two_keys(proxy)
            proxy.terminate()
            assert await proxy.wait() == 0
        finally:
            proxy.close()
        restarted = await _start(config, port, tmp_path / "log2")
        try:
            await _assert_two_keys_still_out(restarted, faulty)
            assert any(e["event"] == "state_restored" for e in restarted.log_events())
        finally:
            restarted.close()

    async def test_kill_9_keeps_state_older_than_one_flush(self, tmp_path: Path, faulty: RunningFake) -> None:
        """After kill -9, the store opens and state older than one flush interval is there."""
        port = free_port()
        config = write_config(tmp_path, faulty.url, port)
        proxy = await _start(config, port, tmp_path / "log1")
        try:
            await _break_two_keys(proxy)
            load = asyncio.create_task(_send(proxy.url, PRO, 200))
            await asyncio.sleep(0.6)  # three flush intervals
            proxy.kill()
            await proxy.wait()
            load.cancel()
            await asyncio.gather(load, return_exceptions=True)
        finally:
            proxy.close()
        restarted = await _start(config, port, tmp_path / "log2")
        try:
            await _assert_two_keys_still_out(restarted, faulty)
        finally:
            restarted.close()


class TestBrokenStateFiles:
    async def test_garbage_sqlite_falls_back_to_json(self, tmp_path: Path, faulty: RunningFake) -> None:
        """A garbage state.db is moved aside; the proxy serves, persists to JSON, restores from it."""
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        (state_dir / "state.db").write_bytes(b"this is not a database" * 100)
        port = free_port()
        config = write_config(tmp_path, faulty.url, port)
        proxy = await _start(config, port, tmp_path / "log1")
        try:
            await _break_two_keys(proxy)
            proxy.terminate()
            assert await proxy.wait() == 0
        finally:
            proxy.close()
        assert list(state_dir.glob("state.db.corrupt-*")), "the garbage file must be kept aside"
        restarted = await _start(config, port, tmp_path / "log2")
        try:
            await _assert_two_keys_still_out(restarted, faulty)
        finally:
            restarted.close()

    async def test_state_dir_unusable_keeps_serving(self, tmp_path: Path, faulty: RunningFake) -> None:
        """state.db being a directory: SQLite cannot open, the JSON fallback is used and announced."""
        state_dir = tmp_path / "state"
        (state_dir / "state.db").mkdir(parents=True)
        port = free_port()
        config = write_config(tmp_path, faulty.url, port)
        proxy = await _start(config, port, tmp_path / "log1")
        try:
            await _break_two_keys(proxy)
            await asyncio.sleep(0.5)
            proxy.terminate()
            assert await proxy.wait() == 0
        finally:
            proxy.close()
        events = proxy.log_events()
        assert any(e["event"] == "store_switched" and e["to_backend"] == "json" for e in events)
        assert (state_dir / "state.db.json").exists()
        restarted = await _start(config, port, tmp_path / "log2")
        try:
            await _assert_two_keys_still_out(restarted, faulty)
        finally:
            restarted.close()

    async def test_corrupt_json_is_moved_aside_and_start_is_clean(
        self, tmp_path: Path, fake: RunningFake
    ) -> None:
        """A corrupt JSON fallback file is kept aside with a warning; the proxy starts fresh and serves."""
        state_dir = tmp_path / "state"
        state_dir.mkdir()
        (state_dir / "state.db.json").write_text("{ not json")
        port = free_port()
        proxy = await _start(write_config(tmp_path, fake.url, port), port, tmp_path / "log")
        try:
            assert await _send(proxy.url, FLASH, 4) == [200] * 4
            assert list(state_dir.glob("state.db.json.corrupt-*"))
            assert any(e["event"] == "store_corrupt_moved_aside" for e in proxy.log_events())
        finally:
            proxy.terminate()
            await proxy.wait()
            proxy.close()


class TestStateFilesAndCli:
    async def test_no_raw_key_in_state_files_and_cli(self, tmp_path: Path, faulty: RunningFake) -> None:
        """Neither the SQLite files nor `state show` hold a raw key; `state reset --yes` clears it."""
        port = free_port()
        config = write_config(tmp_path, faulty.url, port)
        proxy = await _start(config, port, tmp_path / "log")
        try:
            await _break_two_keys(proxy)
            proxy.terminate()
            assert await proxy.wait() == 0
        finally:
            proxy.close()
        stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file())
        assert stored, "the state must have been written"
        for key in KEYS:
            assert key.encode() not in stored
        show = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gemini_proxy.cli", "state", "show", "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert key_id(KEYS[0]) in show.stdout
        assert all(key not in show.stdout for key in KEYS)
        await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "gemini_proxy.cli", "state", "reset", "--yes", "--config", str(config)],
            capture_output=True,
            text=True,
            check=True,
        )
        restarted = await _start(config, port, tmp_path / "log2")
        try:
            faulty.state.reset()
            faulty.state.set_rules(())
            assert await _send(restarted.url, FLASH, 8) == [200] * 8
            assert faulty.state.requests_by_key[KEYS[0]] > 0, "after a reset the key is back in rotation"
        finally:
            restarted.close()
