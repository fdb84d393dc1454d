"""``make soak``: a long, bounded run of the proxy with the fault mix, watching for leaks.

It starts the fake upstream (with the fault mix of ``load_test``) and the proxy (SQLite
state), sends ``--requests`` requests (200,000 by default) cycling through the four
workloads at ``--concurrency``, and samples the proxy's RSS and open descriptors every
``--sample-interval-s`` seconds, printing the curve as it goes. Then the verdict:

* no client request failed (429, 5xx, transport error) after the warm-up, the first 20%
  of the requests (failures in it, where the faulty keys are met first, are reported);
* RSS growth after the warm-up (the first 20% of the requests) is within
  ``--rss-tolerance-mb``;
* open descriptors come back to their baseline (before any load, within
  ``--fd-tolerance``) once the idle upstream connections expire (30 s keep-alive);
* on SIGTERM the proxy exits 0, and ``gemini-proxy state show --json`` then shows the
  flushed pool state: the invalid key disabled, the rate-limited keys cooling, and the
  request counters covering every request that succeeded.

    .venv/bin/python -m tests.performance.soak [--requests 200000] [--concurrency 16]

Bounded: it stops after ``--requests`` requests or ``--duration-s`` seconds. Exit 0 when
every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gemini_proxy.keys.model import key_id
from tests.performance.harness import Child, ProcessSample, ProcessSampler, RunStats, drive_load, free_port
from tests.performance.load_test import (
    WORKLOADS,
    LoadOptions,
    PoolKey,
    client_failures,
    pool_keys,
    proxy_config,
    request_plan,
    scrape,
    start_fake,
    start_proxy,
)

WARMUP_SHARE = 0.2


@dataclass(frozen=True)
class SoakOptions:
    """How long, how hard, and how strict the soak is."""

    requests: int = 200_000
    concurrency: int = 16
    duration_s: float = 3600.0
    sample_interval_s: float = 5.0
    keys: int = 20
    flush_interval_s: float = 2.0
    rss_tolerance_mb: float = 20.0
    fd_tolerance: int = 4
    fd_settle_s: float = 75.0  # the proxy's idle upstream connections close after 30 s, checked lazily


@dataclass(frozen=True)
class Check:
    """One line of the verdict."""

    name: str
    passed: bool
    detail: str


def client_check(stats: RunStats, failures: dict[str, int]) -> Check:
    """No client request failed after the warm-up (the first 20%), where the faulty keys are met first."""
    warmup_end = stats.requests * WARMUP_SHARE
    early = sum(1 for ordinal in stats.failed_at if ordinal < warmup_end)
    late = len(stats.failed_at) - early
    return Check(
        "clients",
        stats.requests > 0 and late == 0,
        f"{stats.requests} requests in {stats.elapsed_s:.0f} s ({stats.rps:.0f}/s); failures {failures}: "
        f"{early} in the warm-up, {late} after it",
    )


def rss_check(samples: Sequence[ProcessSample], total: int, tolerance_mb: float) -> Check:
    """RSS after the warm-up (first 20% of ``total`` requests) grows by at most ``tolerance_mb``."""
    warm = [s for s in samples if s.done >= total * WARMUP_SHARE]
    if len(warm) < 2:
        return Check("rss", True, f"too few samples after the warm-up ({len(warm)}) to judge")
    base = warm[0].rss_mb
    growth = max(s.rss_mb for s in warm) - base
    end = warm[-1].rss_mb - base
    return Check(
        "rss",
        growth <= tolerance_mb,
        f"after warm-up {base:.1f} MB, peak +{growth:.1f} MB, end {end:+.1f} MB (tolerance {tolerance_mb} MB)",
    )


def fd_check(baseline: int, settled: int, waited_s: float, tolerance: int) -> Check:
    return Check(
        "fds",
        settled <= baseline + tolerance,
        f"baseline {baseline}, {settled} after {waited_s:.0f} s idle (tolerance {tolerance})",
    )


def state_checks(rows: list[dict[str, Any]], keys: Sequence[PoolKey], succeeded: int) -> list[Check]:
    """The flushed state: the invalid key disabled, rate-limited keys cooling, counters present."""
    by_id = {row["key_id"]: row for row in rows}
    kinds = {key_id(k.secret): k.kind for k in keys}
    invalid = [by_id.get(i) for i, kind in kinds.items() if kind == "invalid"]
    cooling = [i for i, kind in kinds.items() if kind == "ratelimited" and by_id.get(i, {}).get("cooldowns")]
    rate_limited = sum(1 for kind in kinds.values() if kind == "ratelimited")
    counted = sum(int(row.get("requests") or 0) for row in rows)
    return [
        Check(
            "state: invalid key disabled",
            bool(invalid) and all(row is not None and row.get("disabled") for row in invalid),
            f"{[None if r is None else (r.get('disabled'), r.get('disabled_reason')) for r in invalid]}",
        ),
        Check(
            "state: rate-limited keys cooling",
            rate_limited > 0 and len(cooling) == rate_limited,
            f"{len(cooling)} of {rate_limited} with a stored cooldown",
        ),
        Check(
            "state: request counters",
            len(rows) == len(keys) and counted >= succeeded,
            f"{len(rows)} key rows, {counted} upstream requests counted for {succeeded} client successes",
        ),
    ]


def show_state(config_path: Path) -> list[dict[str, Any]]:
    """``gemini-proxy state show --json --config ...``, as the operator would run it."""
    completed = subprocess.run(
        [sys.executable, "-m", "gemini_proxy.cli", "state", "show", "--json", "--config", str(config_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"state show failed ({completed.returncode}): {completed.stderr[-2000:]}")
    rows: list[dict[str, Any]] = json.loads(completed.stdout)
    return rows


def _print_sample(previous: list[ProcessSample]) -> Any:
    def show(sample: ProcessSample) -> None:
        rate = 0.0
        if previous and sample.t_s > previous[-1].t_s:
            rate = (sample.done - previous[-1].done) / (sample.t_s - previous[-1].t_s)
        previous.append(sample)
        print(
            f"{sample.t_s:8.1f} {sample.done:>9} {rate:>8.0f} {sample.rss_mb:>8.1f} {sample.fds:>5} "
            f"{sample.cpu_s:>8.1f}",
            flush=True,
        )

    return show


async def _settle_fds(proxy: Child, baseline: int, tolerance: int, limit_s: float) -> tuple[int, float]:
    """Wait (at most ``limit_s``) for the descriptors to come back to the baseline."""
    started = time.monotonic()
    fds = proxy.open_fds()
    while fds > baseline + tolerance and time.monotonic() - started < limit_s:
        await asyncio.sleep(1.0)
        fds = proxy.open_fds()
    return fds, time.monotonic() - started


async def _soak(
    options: SoakOptions, proxy: Child, load: LoadOptions
) -> tuple[RunStats, list[ProcessSample], list[Check], dict[str, Any]]:
    proxy_url = f"http://127.0.0.1:{proxy.port}"
    plans = [request_plan(w, proxy_url, load.client_token, load, direct=False) for w in WORKLOADS.values()]
    baseline_fds = proxy.open_fds()
    before = await scrape(proxy_url, load.admin_token)
    stats = RunStats(options.requests, 0.0)
    print(f"{'t s':>8} {'done':>9} {'req/s':>8} {'RSS MB':>8} {'fds':>5} {'CPU s':>8}")
    async with ProcessSampler(
        proxy,
        options.sample_interval_s,
        progress=lambda: len(stats.latencies_ms),
        on_sample=_print_sample([]),
    ) as sampler:
        await drive_load(
            plans,
            requests=options.requests,
            concurrency=options.concurrency,
            timeout_s=options.duration_s,
            stats=stats,
        )
    after = await scrape(proxy_url, load.admin_token)
    settled, waited = await _settle_fds(proxy, baseline_fds, options.fd_tolerance, options.fd_settle_s)
    failures = client_failures(stats)
    checks = [
        client_check(stats, failures),
        rss_check(sampler.samples, stats.requests, options.rss_tolerance_mb),
        fd_check(baseline_fds, settled, waited, options.fd_tolerance),
    ]
    counters: dict[str, Any] = {}
    if before is not None and after is not None:
        delta = after.minus(before)
        counters = {"retries": delta.retries, "upstream_calls": delta.upstream_calls}
    return stats, sampler.samples, checks, counters


def run(options: SoakOptions) -> tuple[list[Check], dict[str, Any]]:
    """The whole soak; the checks and a JSON-ready record of the run."""
    load = LoadOptions(faults="mix", keys=options.keys, stream_chunks=5, chunk_delay_ms=0.0)
    keys = pool_keys(options.keys, "mix")
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        fake = start_fake(load, workdir)
        proxy: Child | None = None
        try:
            config = proxy_config(
                f"http://127.0.0.1:{fake.port}",
                free_port(),
                keys,
                workdir / "state.db",
                flush_interval_s=options.flush_interval_s,
                access_log=True,
            )
            proxy, config_path = start_proxy(config, workdir)
            stats, samples, checks, counters = asyncio.run(_soak(options, proxy, load))
            exit_code = proxy.stop()
            checks.append(Check("SIGTERM exit", exit_code == 0, f"exit code {exit_code}"))
            succeeded = sum(n for status, n in stats.statuses.items() if 200 <= status < 300)
            checks.extend(state_checks(show_state(config_path), keys, succeeded))
        finally:
            if proxy is not None:
                proxy.stop()
            fake.stop()
    record = {
        "options": asdict(options),
        "requests": stats.requests,
        "elapsed_s": round(stats.elapsed_s, 1),
        "statuses": {str(k): v for k, v in stats.statuses.items()},
        "counters": counters,
        "curve": [asdict(s) for s in samples],
        "checks": [asdict(c) for c in checks],
    }
    return checks, record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    defaults = SoakOptions()
    parser.add_argument("--requests", type=int, default=defaults.requests)
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--duration-s", type=float, default=defaults.duration_s, help="time bound")
    parser.add_argument("--sample-interval-s", type=float, default=defaults.sample_interval_s)
    parser.add_argument("--keys", type=int, default=defaults.keys)
    parser.add_argument("--flush-interval-s", type=float, default=defaults.flush_interval_s)
    parser.add_argument("--rss-tolerance-mb", type=float, default=defaults.rss_tolerance_mb)
    parser.add_argument("--fd-tolerance", type=int, default=defaults.fd_tolerance)
    parser.add_argument("--fd-settle-s", type=float, default=defaults.fd_settle_s)
    parser.add_argument("--json", type=Path, help="also write the curve and the verdict here")
    args = parser.parse_args(argv)
    options = SoakOptions(
        requests=args.requests,
        concurrency=args.concurrency,
        duration_s=args.duration_s,
        sample_interval_s=args.sample_interval_s,
        keys=args.keys,
        flush_interval_s=args.flush_interval_s,
        rss_tolerance_mb=args.rss_tolerance_mb,
        fd_tolerance=args.fd_tolerance,
        fd_settle_s=args.fd_settle_s,
    )
    print(
        f"soak: {options.requests:,} requests at concurrency {options.concurrency}, fault mix, "
        f"{options.keys} keys, sampling every {options.sample_interval_s} s (bound {options.duration_s:.0f} s)"
    )
    checks, record = run(options)
    print(f"counters during the run: {record['counters']}")
    for check in checks:
        print(f"{'PASS' if check.passed else 'FAIL'}  {check.name}: {check.detail}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2))
    passed = all(c.passed for c in checks)
    print("soak verdict:", "PASS" if passed else "FAIL")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
