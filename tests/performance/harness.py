"""Shared pieces of the benchmark and the load test: child processes measured through
/proc, a sampler of their memory and descriptors, and bounded load drivers over loopback.

``drive`` is the closed-loop driver ``bench.py`` uses. ``drive_load`` is the load test's:
closed loop (``concurrency`` workers) or open loop (``rate`` requests per second, with
``concurrency`` as the cap on requests in flight), cycling through a list of
``RequestPlan``s, recording time to first byte and the gaps between stream events.
Both stop after ``requests`` requests or ``timeout_s`` seconds, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
    stderr_path: Path | None = None

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str],
        port: int,
        *,
        env: dict[str, str] | None = None,
        stderr_path: Path | None = None,
    ) -> Child:
        """Start ``argv`` and wait until it listens on ``port``.

        Its stderr goes to a pipe that nobody drains, or, for long runs that could fill
        the pipe, to ``stderr_path``.
        """
        stderr_file = stderr_path.open("wb") if stderr_path is not None else None
        try:
            process = subprocess.Popen(
                list(argv),
                stdout=subprocess.DEVNULL,
                stderr=stderr_file if stderr_file is not None else subprocess.PIPE,
                env={**os.environ, **(env or {})},
            )
        finally:
            if stderr_file is not None:
                stderr_file.close()
        child = cls(name, process, port, stderr_path)
        try:
            child.wait_ready()
        except BaseException:
            child.stop()
            raise
        return child

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early: {self.stderr_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {self.port}")

    def stderr_tail(self, limit: int = 2000) -> str:
        """The end of what the child wrote to stderr (only once it has exited, for a pipe)."""
        if self.stderr_path is not None:
            return self.stderr_path.read_bytes()[-limit:].decode(errors="replace")
        if self.process.stderr is not None and self.process.poll() is not None:
            return self.process.stderr.read().decode(errors="replace")[-limit:]
        return ""

    def cpu_seconds(self) -> float:
        return ProcessProbe(self.process.pid).cpu_seconds()

    def rss_mb(self) -> float:
        return ProcessProbe(self.process.pid).rss_mb()

    def peak_rss_mb(self) -> float:
        return ProcessProbe(self.process.pid).peak_rss_mb()

    def open_fds(self) -> int:
        return ProcessProbe(self.process.pid).open_fds()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()
        return self.process.returncode


@dataclass(frozen=True)
class ProcessProbe:
    """CPU time, memory and open descriptors of any local process, read from /proc."""

    pid: int

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def rss_mb(self) -> float:
        pages = int(Path(f"/proc/{self.pid}/statm").read_text().split()[1])
        return pages * _PAGE / 1e6

    def peak_rss_mb(self) -> float:
        """The high-water mark of the resident set since the process started (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
        return self.rss_mb()

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))


@dataclass(frozen=True)
class ProcessSample:
    """One reading of a process while a run goes on."""

    t_s: float
    done: int
    rss_mb: float
    fds: int
    cpu_s: float


class ProcessSampler:
    """Reads a process's RSS, descriptors and CPU time every ``interval_s`` in the background.

    ``async with ProcessSampler(probe, 0.25, progress=...) as sampler:`` samples once on
    entry, then periodically, and once more on exit; ``progress`` says how many requests
    are done at each sample, ``on_sample`` sees each sample as it is taken.
    """

    def __init__(
        self,
        probe: ProcessProbe | Child,
        interval_s: float,
        *,
        progress: Callable[[], int] = lambda: 0,
        on_sample: Callable[[ProcessSample], None] | None = None,
    ) -> None:
        self._probe = probe
        self._interval_s = interval_s
        self._progress = progress
        self._on_sample = on_sample
        self._started = time.perf_counter()
        self._task: asyncio.Task[None] | None = None
        self.samples: list[ProcessSample] = []

    def sample(self) -> ProcessSample | None:
        """Take one sample now (None once the process is gone)."""
        try:
            reading = ProcessSample(
                t_s=time.perf_counter() - self._started,
                done=self._progress(),
                rss_mb=self._probe.rss_mb(),
                fds=self._probe.open_fds(),
                cpu_s=self._probe.cpu_seconds(),
            )
        except (FileNotFoundError, ProcessLookupError):
            return None
        self.samples.append(reading)
        if self._on_sample is not None:
            self._on_sample(reading)
        return reading

    @property
    def peak_rss_mb(self) -> float:
        return max((s.rss_mb for s in self.samples), default=0.0)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            self.sample()

    async def __aenter__(self) -> ProcessSampler:
        self._started = time.perf_counter()
        self.sample()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()


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
    # Filled by ``drive_load`` only.
    gaps_ms: list[float] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)
    queued: int = 0  # open loop: requests that started late because the concurrency cap was reached
    failed_at: list[int] = field(default_factory=list)  # completion ordinals of non-2xx answers and errors

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


@dataclass(frozen=True)
class RequestPlan:
    """One kind of request ``drive_load`` sends: where, what and whether the answer streams."""

    url: str
    body: bytes
    headers: Mapping[str, str]
    stream: bool = False


class _EventClock:
    """Timestamps the end of each server-sent event (a blank line) of one streamed body."""

    def __init__(self) -> None:
        self._pending = b""
        self.times: list[float] = []

    def feed(self, chunk: bytes, now: float) -> None:
        # JSON never holds a raw CR, so dropping CRs makes CRLF and LF framing alike.
        self._pending += chunk.replace(b"\r", b"")
        ended = self._pending.count(b"\n\n")
        if ended:
            self.times.extend([now] * ended)
            self._pending = self._pending[self._pending.rfind(b"\n\n") + 2 :]


async def _send(session: aiohttp.ClientSession, plan: RequestPlan, stats: RunStats, started: float) -> None:
    """One request; its latency counts from ``started`` (its scheduled start in open loop)."""
    try:
        async with session.post(plan.url, data=plan.body, headers=dict(plan.headers)) as response:
            if plan.stream:
                clock = _EventClock()
                first = True
                async for chunk in response.content.iter_any():
                    now = time.perf_counter()
                    if first:
                        stats.ttfb_ms.append((now - started) * 1000)
                        first = False
                    clock.feed(chunk, now)
                times = clock.times
                stats.gaps_ms.extend((b - a) * 1000 for a, b in itertools.pairwise(times))
            else:
                await response.read()
            stats.statuses[response.status] = stats.statuses.get(response.status, 0) + 1
            if not 200 <= response.status < 300:
                stats.failed_at.append(len(stats.latencies_ms))
    except (aiohttp.ClientError, TimeoutError) as exc:
        stats.errors += 1
        kind = type(exc).__name__
        stats.error_kinds[kind] = stats.error_kinds.get(kind, 0) + 1
        stats.failed_at.append(len(stats.latencies_ms))
    stats.latencies_ms.append((time.perf_counter() - started) * 1000)


async def drive_load(
    plans: Sequence[RequestPlan],
    *,
    requests: int,
    concurrency: int,
    rate: float | None = None,
    timeout_s: float = 120.0,
    request_timeout_s: float = 60.0,
    stats: RunStats | None = None,
) -> RunStats:
    """Send up to ``requests`` requests, cycling through ``plans``; bounded in count and time.

    Closed loop when ``rate`` is None: ``concurrency`` workers, each sending its next
    request when the last one is answered. Open loop otherwise: request ``i`` is due at
    ``i / rate`` seconds and its latency counts from then, so time spent waiting for one of
    the ``concurrency`` slots is part of it (``stats.queued`` counts those requests).
    No request starts after ``timeout_s``; each gives up after ``request_timeout_s``.
    Pass ``stats`` to watch ``len(stats.latencies_ms)`` grow while it runs.

    The driver's garbage collector is off while it sends: with a thousand open streams
    its full collections paused this process for tens of milliseconds, and those pauses
    showed up as time to first byte of the server under test (the run is bounded, so
    the garbage it keeps is too; it is collected at the end).
    """
    if not plans:
        raise ValueError("drive_load needs at least one request plan")
    stats = stats if stats is not None else RunStats(requests=requests, elapsed_s=0.0)
    deadline = time.perf_counter() + timeout_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=request_timeout_s)
    collecting = gc.isenabled()
    gc.disable()
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False
        ) as session:
            started = time.perf_counter()
            if rate is None:
                await _closed_loop(session, plans, requests, concurrency, deadline, stats)
            else:
                await _open_loop(session, plans, requests, concurrency, rate, deadline, stats)
            stats.elapsed_s = time.perf_counter() - started
    finally:
        if collecting:
            gc.enable()
        gc.collect()
    stats.requests = len(stats.latencies_ms)
    return stats


async def _closed_loop(
    session: aiohttp.ClientSession,
    plans: Sequence[RequestPlan],
    requests: int,
    concurrency: int,
    deadline: float,
    stats: RunStats,
) -> None:
    sent = 0

    async def worker() -> None:
        nonlocal sent
        while sent < requests and time.perf_counter() < deadline:
            plan = plans[sent % len(plans)]
            sent += 1
            await _send(session, plan, stats, time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _open_loop(
    session: aiohttp.ClientSession,
    plans: Sequence[RequestPlan],
    requests: int,
    concurrency: int,
    rate: float,
    deadline: float,
    stats: RunStats,
) -> None:
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()
    origin = time.perf_counter()

    async def one(plan: RequestPlan, due: float) -> None:
        try:
            await _send(session, plan, stats, due)
        finally:
            slots.release()

    for index in range(requests):
        due = origin + index / rate
        if due >= deadline:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if slots.locked():
            stats.queued += 1
        await slots.acquire()
        task = asyncio.create_task(one(plans[index % len(plans)], due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


def can_pin() -> bool:
    """Whether ``--pin`` works here: Linux CPU affinity, two CPUs or more, and taskset."""
    return (
        hasattr(os, "sched_setaffinity")
        and len(os.sched_getaffinity(0)) >= 2
        and bool(shutil.which("taskset"))
    )


def pinned_prefix(cpu: int) -> list[str]:
    """``taskset`` arguments that run a command on CPU ``cpu`` alone, threads included
    (taskset execs the command: the process keeps its pid)."""
    taskset = shutil.which("taskset")
    if taskset is None:
        raise ValueError("--pin needs taskset (util-linux)")
    return [taskset, "--cpu-list", str(cpu)]


@contextmanager
def pinned(pin: bool) -> Iterator[None]:
    """With ``pin``, run this process, and the children it starts meanwhile, on CPU 0.

    The process measured (the proxy, or the bare relay) then gets CPU 1 to itself, as it
    would on its own machine: its added latency and its CPU per request are its own, not
    inflated by the load generator and the fake competing for the same core and caches.
    The previous affinity comes back afterwards.
    """
    if not pin:
        yield
        return
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        raise ValueError("--pin needs Linux and at least two CPUs")
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
