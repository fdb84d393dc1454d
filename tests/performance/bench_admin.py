"""Benchmark: a ``/metrics`` scrape and the admin key list on a pool of 10,000 keys.

Not collected by pytest (no ``test_`` prefix). Run from the repository root:

    .venv/bin/python -m tests.performance.bench_admin [--keys 10000] [--repeat 5]

It serves the real app on loopback with ``--keys`` keys, puts a tenth of them out of
rotation (disabled), a fifth cooling for one model and a few with an open breaker, then
times, ``--repeat`` times each: the metrics text built in process (what blocks the event
loop), a ``GET /metrics`` over HTTP (plain and gzip), ``GET /admin/keys`` (every key) and
``GET /admin/pool``. It prints the minimum, median and maximum of each, and the size of
each response. Bounded: a few seconds for 10,000 keys.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from gemini_proxy.app import create_app, start_server
from gemini_proxy.config import load_settings
from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.services import SERVICES

ADMIN_TOKEN = "bench-admin-token-000"
MODEL = "gemini-2.5-flash"
COOL = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=3600.0)
FAIL = Outcome(OutcomeKind.TRANSIENT, "http_500")


def _settings(size: int) -> Any:
    return load_settings(
        None,
        {},
        auth={
            "client_tokens": [{"name": "bench", "token": "bench-client-token-000"}],
            "admin_token": ADMIN_TOKEN,
        },
        keys=[{"key": f"AIzaSyBENCH{i:028d}", "name": f"key-{i}"} for i in range(size)],
        state={"path": None},
        upstream={"base_url": "http://127.0.0.1:9"},
        pool={"backoff_base_s": 600.0, "backoff_max_s": 3600.0},
        logging={"access_log": False},
    )


def _shape(pool: KeyPool, size: int) -> None:
    """A tenth disabled, a fifth cooling for MODEL, a few dozen with an open breaker."""
    ids = [view.key_id for view in pool.views()]
    for key_id in ids[::10]:
        pool.disable(key_id, "bench")
    for _ in range(size // 5):
        pool.release(pool.acquire(MODEL), COOL, latency_s=0.2)
    for _ in range(min(50, size // 20) * 3):
        pool.release(pool.acquire("gemini-2.5-pro"), FAIL, latency_s=0.2)


async def _time(repeat: int, run: Callable[[], Awaitable[int]]) -> tuple[list[float], int]:
    times: list[float] = []
    size = 0
    for _ in range(repeat):
        started = time.perf_counter()
        size = await run()
        times.append(time.perf_counter() - started)
    return times, size


def _row(label: str, times: Sequence[float], size: int) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"{label:<34} min {min(ms):8.1f} ms   median {statistics.median(ms):8.1f} ms   "
        f"max {max(ms):8.1f} ms   {size / 1024:9.1f} KiB"
    )


async def run(size: int, repeat: int) -> list[str]:
    """Serve a ``size``-key pool and time the scrape and the admin calls; the report lines."""
    log = io.StringIO()  # the key events of shaping the pool, kept off the terminal
    app = create_app(_settings(size), rng=random.Random(1), log_stream=log)
    runner, port = await start_server(app)
    rows: list[str] = []
    try:
        services = app[SERVICES]
        _shape(services.pool, size)
        metrics = services.metrics
        assert metrics is not None
        url = f"http://127.0.0.1:{port}"
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

        async def in_process() -> int:
            return len(metrics.exposition())

        async with aiohttp.ClientSession(auto_decompress=False) as session:

            def get(path: str, headers: dict[str, str]) -> Callable[[], Awaitable[int]]:
                async def call() -> int:
                    async with session.get(f"{url}{path}", headers=headers) as response:
                        assert response.status == 200, response.status
                        return len(await response.read())

                return call

            plan = [
                ("metrics text, in process", in_process),
                ("GET /metrics", get("/metrics", {"Accept-Encoding": "identity"})),
                ("GET /metrics (gzip)", get("/metrics", {"Accept-Encoding": "gzip"})),
                ("GET /admin/keys (all)", get("/admin/keys", admin)),
                ("GET /admin/keys?state=disabled", get("/admin/keys?state=disabled", admin)),
                ("GET /admin/keys?limit=100", get("/admin/keys?offset=5000&limit=100", admin)),
                ("GET /admin/pool", get("/admin/pool", admin)),
            ]
            for label, call in plan:
                times, length = await _time(repeat, call)
                rows.append(_row(label, times, length))
    finally:
        await runner.cleanup()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = asyncio.run(run(args.keys, max(1, min(args.repeat, 50))))
    print(f"admin and metrics on a pool of {args.keys:,} keys ({args.repeat} runs each)")
    for row in rows:
        print(row)
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
