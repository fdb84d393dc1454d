"""``gemini-proxy serve --workers N``: worker processes sharing one port and their key state."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from gemini_proxy.fake_upstream.runner import RunningFake
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN
from tests.integration.proc import free_port, write_config
from tests.integration.redis_instances import BODY, FLASH
from tests.redis_support import (
    REDIS_URL,
    delete_prefix,
    require_redis,
    unique_prefix,
)


@pytest.fixture(autouse=True)
def _redis_is_running() -> None:
    """These tests need the shared Redis; without it they fail rather than skip."""
    require_redis()


@pytest.fixture
def prefix() -> Iterator[str]:
    value = unique_prefix("workers")
    yield value
    delete_prefix(REDIS_URL, value)


@pytest.fixture
async def fresh_connections() -> AsyncIterator[aiohttp.ClientSession]:
    """A client opening a new connection per request (so the kernel spreads them over the workers)."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        yield session


def _serve(config: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "gemini_proxy.cli", "serve", "--config", str(config), *extra],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _tail(log: Path) -> str:
    return log.read_text()[-3000:]


def _listening_sockets(port: int) -> int:
    """How many sockets listen on loopback ``port`` (each worker has its own, SO_REUSEPORT)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local, listen = f"0100007F:{port:04X}", "0A"
    return sum(1 for row in rows if row.split()[1] == local and row.split()[3] == listen)


async def _all_listening(port: int, count: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while _listening_sockets(port) < count:
        if process.poll() is not None:
            raise AssertionError(f"exited early:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not {count} listeners on {port}:\n{_tail(log)}")
        await asyncio.sleep(0.05)


def _worker_pids(log: Path) -> list[int]:
    match = re.search(r"2 workers on \S+ \(pids (\d+), (\d+)\)", log.read_text())
    assert match, log.read_text()[-2000:]
    return [int(match.group(1)), int(match.group(2))]


def _stop_everything(process: subprocess.Popen[bytes], log: Path) -> None:
    """After a failure: stop the parent gracefully (it stops its workers), then kill what is left."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if re.search(r"workers on", log.read_text()):
        for pid in _worker_pids(log):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class TestWorkers:
    """Several processes on one host and one port."""

    async def test_two_workers_share_the_port_and_stop_cleanly_on_sigterm(
        self, tmp_path: Path, fake: RunningFake, prefix: str, fresh_connections: aiohttp.ClientSession
    ) -> None:
        """Both workers serve connections on the one port; SIGTERM stops both and the parent exits 0."""
        port = free_port()
        state = {"path": str(tmp_path / "state.db"), "redis_url": REDIS_URL, "redis_prefix": prefix}
        config = write_config(tmp_path, fake.url, port, state=state)
        log = tmp_path / "log"
        process = _serve(config, log, "--workers", "2")
        try:
            await _all_listening(port, 2, process, log)
            workers = _worker_pids(log)
            url = f"http://127.0.0.1:{port}"
            for _ in range(40):
                async with fresh_connections.post(
                    url + FLASH, data=BODY, headers={"x-goog-api-key": CLIENT_TOKEN}
                ) as response:
                    assert response.status == 200
            # Each worker counts only the requests it served itself: an answer strictly between
            # 0 and 40 comes from a worker that served some of them, and not all.
            served: set[int] = set()
            for _ in range(10):
                async with fresh_connections.get(
                    f"{url}/admin/keys", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                ) as response:
                    keys = (await response.json())["keys"]
                served.add(sum(key["counters"]["requests"] for key in keys))
            assert all(0 < count < 40 for count in served), served
            assert len(served) == 1 or sum(served) == 40, served

            process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait, 30) == 0
            assert not any(_alive(pid) for pid in workers)
            assert log.read_text().count('"event":"proxy_stopped"') == 2
        finally:
            _stop_everything(process, log)

    def test_more_than_one_worker_without_redis_is_refused(self, tmp_path: Path) -> None:
        """--workers 2 without state.redis_url exits with status 2 and says why."""
        config = write_config(tmp_path, "http://127.0.0.1:9", free_port())

        result = subprocess.run(
            [sys.executable, "-m", "gemini_proxy.cli", "serve", "--config", str(config), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

        assert result.returncode == 2
        assert "--workers 2 needs state.redis_url" in result.stderr
