"""Large-pool figures (10,000 keys): pick cost, snapshot and flush cost, and whether
flushing the state moves the p99 of requests through a real proxy.

Not collected by pytest (no ``test_`` prefix). Run from the repository root:

    .venv/bin/python -m tests.performance.bench_pool [--keys 10000] [--picks 200000]
        [--requests 2000] [--rounds 2] [--concurrency 16] [--skip-admin] [--json PATH]

1. Pick cost: ``acquire`` alone and ``acquire`` + ``release`` cycles per second, with half
   of the keys cooling or with an open breaker (``tests.performance.bench_scheduler``).
2. Snapshot and flush: ``KeyPool.export_snapshot`` (runs on the event loop) and a save of
   that snapshot to SQLite through ``open_store`` (runs in a thread), first and repeated.
3. Flushing and p99: two proxies with ``--keys`` keys in front of one fake upstream, one
   flushing every 0.1 s and one effectively never (a year), loaded in alternating
   rounds of the native workload; p50/p99/max and CPU ms per request of each.
4. ``/metrics`` scrape and admin key list on the same pool size (``bench_admin``).

Bounded: each part stops after its count of picks, saves or requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gemini_proxy.store.factory import open_store
from tests.performance import bench_admin, bench_scheduler
from tests.performance.harness import Child, RunStats, drive_load, free_port
from tests.performance.load_test import (
    CLIENT_TOKEN,
    WORKLOADS,
    LoadOptions,
    pool_keys,
    proxy_config,
    request_plan,
    start_fake,
    start_proxy,
)

FLUSH_OFTEN_S = 0.1
FLUSH_NEVER_S = 365 * 24 * 3600.0


def _ms_figures(times_s: Sequence[float]) -> dict[str, float]:
    ms = [t * 1000 for t in times_s]
    return {
        "min_ms": round(min(ms), 2),
        "median_ms": round(statistics.median(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def pick_cost(keys: int, picks: int) -> dict[str, Any]:
    """Picks/s and acquire+release cycles/s on a pool with half of the keys out of rotation."""
    picks_per_s, cycles_per_s, refused = bench_scheduler.run(keys, picks)
    return {
        "picks": picks,
        "acquire_per_s": round(picks_per_s),
        "acquire_release_per_s": round(cycles_per_s),
        "refused": refused,
    }


def _timed(repeat: int, call: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


async def snapshot_and_flush(keys: int, repeat: int, workdir: Path) -> dict[str, Any]:
    """Time ``export_snapshot`` and SQLite saves of a ``keys``-key pool."""
    pool = bench_scheduler.build_pool(keys, bench_scheduler.FakeClock())
    export_times = _timed(repeat, pool.export_snapshot)
    snapshot = pool.export_snapshot()
    store = open_store(workdir / "bench-state.db", on_switch=lambda *_: None, clock=time.time)
    await store.load()
    save_times: list[float] = []
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            await store.save(snapshot)
            save_times.append(time.perf_counter() - started)
    finally:
        await store.close()
    return {
        "records": {"keys": len(snapshot.keys), "cooldowns": len(snapshot.cooldowns)},
        "export_snapshot": _ms_figures(export_times),
        "sqlite_first_save_ms": round(save_times[0] * 1000, 2),
        "sqlite_save": _ms_figures(save_times[1:] or save_times),
    }


async def _round(child: Child, requests: int, concurrency: int, rate: float | None) -> tuple[RunStats, float]:
    options = LoadOptions()
    plan = request_plan(
        WORKLOADS["native"], f"http://127.0.0.1:{child.port}", CLIENT_TOKEN, options, direct=False
    )
    await drive_load([plan], requests=min(100, requests), concurrency=concurrency)  # warm-up
    before = child.cpu_seconds()
    stats = await drive_load([plan], requests=requests, concurrency=concurrency, rate=rate, timeout_s=300)
    return stats, (child.cpu_seconds() - before) * 1000 / max(1, stats.requests)


async def _alternate(
    proxies: dict[str, Child], requests: int, concurrency: int, rounds: int, rate: float | None = None
) -> dict[str, dict[str, Any]]:
    per_round: dict[str, list[tuple[RunStats, float]]] = {label: [] for label in proxies}
    for _ in range(rounds):
        for label, child in proxies.items():
            per_round[label].append(await _round(child, requests, concurrency, rate))
    result: dict[str, dict[str, Any]] = {}
    for label, runs in per_round.items():
        result[label] = {
            "rounds": len(runs),
            "requests": sum(s.requests for s, _ in runs),
            "ok": sum(s.statuses.get(200, 0) for s, _ in runs),
            "rps": round(statistics.median(s.rps for s, _ in runs), 1),
            "p50_ms": round(statistics.median(s.percentile(50) for s, _ in runs), 2),
            "p99_ms": round(statistics.median(s.percentile(99) for s, _ in runs), 2),
            "p99_ms_by_round": [round(s.percentile(99), 2) for s, _ in runs],
            "max_ms": round(max(max(s.latencies_ms, default=0.0) for s, _ in runs), 2),
            "cpu_ms_per_request": round(statistics.median(cpu for _, cpu in runs), 3),
        }
    return result


def flush_vs_p99(
    keys: int, requests: int, concurrency: int, rounds: int, workdir: Path, rate: float | None = None
) -> dict[str, Any]:
    """p99 through two ``keys``-key proxies, one flushing every 0.1 s and one never."""
    fake = start_fake(LoadOptions(), workdir)
    pool = pool_keys(keys, "none")
    started: dict[str, Child] = {}
    try:
        for label, interval in (("flush every 0.1 s", FLUSH_OFTEN_S), ("flush off", FLUSH_NEVER_S)):
            folder = workdir / label.replace(" ", "-")
            folder.mkdir()
            config = proxy_config(
                f"http://127.0.0.1:{fake.port}",
                free_port(),
                pool,
                folder / "state.db",
                flush_interval_s=interval,
                access_log=True,
            )
            started[label], _ = start_proxy(config, folder)
        return asyncio.run(_alternate(started, requests, concurrency, rounds, rate))
    finally:
        for child in started.values():
            child.stop()
        fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--picks", type=int, default=200_000)
    parser.add_argument("--saves", type=int, default=5, help="snapshot exports and SQLite saves to time")
    parser.add_argument("--requests", type=int, default=2000, help="requests per proxy per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--rate",
        type=float,
        help="open loop at this many requests/s (default: closed loop, as fast as it goes)",
    )
    parser.add_argument("--skip-admin", action="store_true", help="skip the /metrics and admin timings")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    begun = time.perf_counter()
    report: dict[str, Any] = {"keys": args.keys}

    report["pick_cost"] = pick_cost(args.keys, args.picks)
    cost = report["pick_cost"]
    print(
        f"pick cost, {args.keys:,} keys (half cooling or open), {cost['picks']:,} picks: "
        f"{cost['acquire_per_s']:,} acquire/s, {cost['acquire_release_per_s']:,} acquire+release/s, "
        f"{cost['refused']} refused",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-pool-") as tmp:
        report["snapshot"] = asyncio.run(snapshot_and_flush(args.keys, max(2, args.saves), Path(tmp)))
        snap = report["snapshot"]
        print(
            f"snapshot of {snap['records']}: export {snap['export_snapshot']}; SQLite save first "
            f"{snap['sqlite_first_save_ms']} ms, then {snap['sqlite_save']}",
            flush=True,
        )
        report["flush_vs_p99"] = flush_vs_p99(
            args.keys, args.requests, args.concurrency, args.rounds, Path(tmp), args.rate
        )
    load = f"{args.rate:g} req/s open loop" if args.rate else f"concurrency {args.concurrency}"
    print(f"native generateContent through the proxy, {args.keys:,} keys, {load}:")
    for label, row in report["flush_vs_p99"].items():
        print(
            f"  {label:<18} {row['requests']:>6} req ({row['ok']} ok)  {row['rps']:>7.1f} req/s  "
            f"p50 {row['p50_ms']:.2f} ms  p99 {row['p99_ms']:.2f} ms {row['p99_ms_by_round']}  "
            f"max {row['max_ms']:.1f} ms  CPU {row['cpu_ms_per_request']:.3f} ms/req"
        )
    if not args.skip_admin:
        rows = asyncio.run(bench_admin.run(args.keys, 3))
        report["admin"] = rows
        print(f"admin and metrics on {args.keys:,} keys (bench_admin, 3 runs each):")
        for row in rows:
            print(f"  {row}")
    print(f"total {time.perf_counter() - begun:.1f} s")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
