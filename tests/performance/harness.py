"""Shared pieces of the benchmark and the load test: child processes measured through
/proc, and a bounded load driver over loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    """A server started as a child process; its CPU time and memory are read from /proc."""

    name: str
    process: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, name: str, argv: Sequence[str], port: int, *, env: dict[str, str] | None = None) -> Child:
        process = subprocess.Popen(
            list(argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        child = cls(name, process, port)
        child.wait_ready()
        return child

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"{self.name} exited early: {err[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss_mb(self) -> float:
        pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return pages * _PAGE / 1e6

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@dataclass
class RunStats:
    """Outcome of one bounded load run."""

    requests: int
    elapsed_s: float
    latencies_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, q: float, values: list[float] | None = None) -> float:
        data = sorted(self.latencies_ms if values is None else values)
        if not data:
            return 0.0
        index = min(len(data) - 1, max(0, round(q / 100 * (len(data) - 1))))
        return data[index]


async def drive(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    requests: int,
    concurrency: int,
    stream: bool = False,
    timeout_s: float = 60.0,
) -> RunStats:
    """Send ``requests`` POSTs with ``concurrency`` workers; bounded in count and time."""
    stats = RunStats(requests=requests, elapsed_s=0.0)
    remaining = requests
    deadline = time.perf_counter() + timeout_s
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal remaining
        while remaining > 0 and time.perf_counter() < deadline:
            remaining -= 1
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    if stream:
                        first = True
                        async for _ in response.content.iter_any():
                            if first:
                                stats.ttfb_ms.append((time.perf_counter() - started) * 1000)
                                first = False
                    else:
                        await response.read()
                    stats.statuses[response.status] = stats.statuses.get(response.status, 0) + 1
            except (aiohttp.ClientError, TimeoutError):
                stats.errors += 1
            stats.latencies_ms.append((time.perf_counter() - started) * 1000)

    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        stats.elapsed_s = time.perf_counter() - started
    stats.requests = len(stats.latencies_ms)
    return stats
