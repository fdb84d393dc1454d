"""Benchmark: what sharing key state through Redis costs, and what ``--workers 2`` gives.

Not collected by pytest (no ``test_`` prefix). Run from the repository root, with a Redis
server on loopback (``--redis-url``, default ``redis://127.0.0.1:6379/0``; the benchmark
uses a prefix of its own and deletes it afterwards):

    .venv/bin/python -m tests.performance.bench_redis [--requests 3000] [--concurrency 32]

In one run, against one fake upstream (a child process), it measures:

- CPU milliseconds per request (from /proc) of a proxy without Redis and of one with
  Redis, first without proactive limits (nothing per request goes to Redis), then with
  rpm/rpd/tpm limits (every pick and token count is shared); repeats alternate between
  the two and the medians are compared (target: within 10%);
- requests per second of ``serve --workers 2`` against one worker (both with Redis);
- the propagation delay of an admin change from one instance to another.

Bounded in requests and time, loopback only. Writes ``bench-results/bench_redis.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.performance.harness import Child, drive, free_port, python_module
from tests.redis_support import delete_prefix, redis_available, unique_prefix

TOKEN = "bench-client-token-000"
ADMIN_TOKEN = "bench-admin-token-000"
KEYS = [f"AIzaSyBENCH{i:02d}abcdefghijklmnopqrstuvw" for i in range(8)]
PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
BODY = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "benchmark me please"}]}]})
HEADERS = {"Content-Type": "application/json", "x-goog-api-key": TOKEN}
HIGH_LIMITS = {"rpm": 10_000_000, "rpd": 1_000_000_000, "tpm": 1_000_000_000}


@dataclass
class Proxy:
    """A proxy child process and the pids whose CPU counts as its own."""

    label: str
    child: Child

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.child.port}"

    def pids(self) -> list[int]:
        root = self.child.process.pid
        return [root, *_descendants(root)]

    def cpu_seconds(self) -> float:
        return sum(_cpu_seconds(pid) for pid in self.pids())


def _descendants(pid: int) -> list[int]:
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [grand for child in children for grand in (child, *_descendants(child))]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _listeners(port: int) -> int:
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local = f"0100007F:{port:04X}"
    return sum(1 for row in rows if row.split()[1] == local and row.split()[3] == "0A")


def _config(folder: Path, upstream: str, port: int, *, redis: dict[str, str] | None, limits: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"path": str(folder / "state.db"), "flush_interval_s": 5}
    if redis is not None:
        state.update(redis)
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "upstream": {"base_url": upstream},
        "auth": {"client_tokens": [{"name": "bench", "token": TOKEN}], "admin_token": ADMIN_TOKEN},
        "keys": [{"key": k} for k in KEYS],
        "pool": {"limits": HIGH_LIMITS if limits else {}},
        "state": state,
        "logging": {"level": "info", "format": "json", "access_log": False},
    }
    path = folder / "proxy.yaml"
    path.write_text(json.dumps(config))
    return path


def _start(label: str, config: Path, port: int, workers: int = 1) -> Proxy:
    argv = python_module("gemini_proxy.cli", "serve", "--config", str(config))
    if workers > 1:
        argv += ["--workers", str(workers)]
    child = Child.start(label, argv, port)
    deadline = time.monotonic() + 20
    while _listeners(port) < workers:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: {workers} workers did not all listen")
        time.sleep(0.05)
    return Proxy(label, child)


async def _measure(proxy: Proxy, requests: int, concurrency: int) -> dict[str, float]:
    before = proxy.cpu_seconds()
    stats = await drive(
        proxy.url + PATH, body=BODY, headers=HEADERS, requests=requests, concurrency=concurrency
    )
    cpu_ms = (proxy.cpu_seconds() - before) * 1000 / max(1, stats.requests)
    if stats.statuses.get(200, 0) != stats.requests:
        raise RuntimeError(
            f"{proxy.label}: not every request succeeded: {stats.statuses}, errors {stats.errors}"
        )
    return {
        "rps": stats.rps,
        "cpu_ms_per_req": cpu_ms,
        "p50_ms": stats.percentile(50),
        "p99_ms": stats.percentile(99),
    }


def _median(rows: list[dict[str, float]]) -> dict[str, float]:
    return {name: round(statistics.median(row[name] for row in rows), 3) for name in rows[0]}


async def _compare(
    proxies: list[Proxy], requests: int, concurrency: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Warm each up, then alternate measured runs between them; the median of each figure."""
    for proxy in proxies:
        await _measure(proxy, min(500, requests), concurrency)
    runs: dict[str, list[dict[str, float]]] = {proxy.label: [] for proxy in proxies}
    for _ in range(repeats):
        for proxy in proxies:
            runs[proxy.label].append(await _measure(proxy, requests, concurrency))
    return {label: _median(rows) for label, rows in runs.items()}


async def _propagation(source: Proxy, target: Proxy, changes: int) -> dict[str, float]:
    """Milliseconds from sending an admin disable/enable to ``source`` until ``target`` shows it."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{source.url}/admin/keys", headers=admin) as response:
            key = (await response.json())["keys"][0]["id"]
        latencies: list[float] = []
        for turn in range(changes):
            action, state = ("disable", "disabled") if turn % 2 == 0 else ("enable", "active")
            started = time.perf_counter()
            async with session.post(f"{source.url}/admin/keys/{key}/{action}", headers=admin) as response:
                assert response.status == 200
            while True:
                async with session.get(f"{target.url}/admin/keys/{key}", headers=admin) as response:
                    if (await response.json())["state"] == state:
                        break
                if time.perf_counter() - started > 2:
                    raise RuntimeError("a change did not propagate within 2 s")
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "max_ms": round(latencies[-1], 2),
    }


async def run(redis_url: str, requests: int, concurrency: int, repeats: int) -> dict[str, Any]:
    # The two single proxies with Redis have a prefix each (neither does the other's work);
    # the workers share the first one's, for the propagation figure.
    prefixes = [unique_prefix("bench"), unique_prefix("bench")]
    fake_port = free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    started: list[Proxy] = []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fake = Child.start(
            "fake", python_module("gemini_proxy.cli", "fake-upstream", "--port", str(fake_port)), fake_port
        )
        try:
            for label, prefix, limits, workers in (
                ("local", None, False, 1),
                ("redis", prefixes[0], False, 1),
                ("local+limits", None, True, 1),
                ("redis+limits", prefixes[1], True, 1),
                ("redis, 2 workers", prefixes[0], False, 2),
            ):
                port = free_port()
                redis = None if prefix is None else {"redis_url": redis_url, "redis_prefix": prefix}
                config = _config(folder / label, fake_url, port, redis=redis, limits=limits)
                started.append(_start(label, config, port, workers))
            by_label = {proxy.label: proxy for proxy in started}
            results["no_limits"] = await _compare(
                [by_label["local"], by_label["redis"]], requests, concurrency, repeats
            )
            results["with_limits"] = await _compare(
                [by_label["local+limits"], by_label["redis+limits"]], requests, concurrency, repeats
            )
            results["workers"] = await _compare(
                [by_label["redis"], by_label["redis, 2 workers"]], requests, concurrency * 2, repeats
            )
            results["propagation"] = await _propagation(by_label["redis"], by_label["redis, 2 workers"], 40)
        finally:
            for proxy in started:
                proxy.child.stop()
            fake.stop()
            for prefix in prefixes:
                delete_prefix(redis_url, prefix)
    return results


def _report(results: dict[str, Any]) -> list[str]:
    lines = [
        f"{'comparison':14s} {'target':18s} {'req/s':>8s} {'CPU ms/req':>11s} {'p50 ms':>8s} {'p99 ms':>8s}"
    ]
    for name in ("no_limits", "with_limits", "workers"):
        for label, row in results[name].items():
            lines.append(
                f"{name:14s} {label:18s} {row['rps']:8.1f} {row['cpu_ms_per_req']:11.3f} "
                f"{row['p50_ms']:8.2f} {row['p99_ms']:8.2f}"
            )
    for name, (base, shared) in (
        ("no_limits", ("local", "redis")),
        ("with_limits", ("local+limits", "redis+limits")),
    ):
        ratio = results[name][shared]["cpu_ms_per_req"] / results[name][base]["cpu_ms_per_req"]
        lines.append(f"CPU per request with Redis / without ({name}): {ratio:.3f}  (target <= 1.10)")
    workers = results["workers"]
    lines.append(
        f"throughput --workers 2 / 1 worker: {workers['redis, 2 workers']['rps'] / workers['redis']['rps']:.2f}"
    )
    lines.append(f"propagation of an admin change to another instance: {results['propagation']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results/bench_redis.json"))
    args = parser.parse_args()
    if not redis_available(args.redis_url):
        raise SystemExit(f"no Redis server at {args.redis_url}")
    results = asyncio.run(run(args.redis_url, args.requests, args.concurrency, args.repeats))
    for line in _report(results):
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
