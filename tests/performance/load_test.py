"""``make loadtest``: a bounded load test of the proxy over loopback, with an optional
fault mix in the key pool and an optional run of the same workload straight at the fake.

By default it starts the fake upstream and the proxy as child processes with a generated
scenario and config (``--proxy-url``/``--upstream-url`` target running ones instead),
drives one or more workloads closed loop (``--concurrency``) or open loop (``--rate``
requests/s, ``--concurrency`` capping requests in flight), and prints, per workload:
requests/s; latency p50/p90/p99/max; statuses and transport errors, with how many client
requests saw a 429 or a 5xx; the retries and upstream calls by outcome (deltas of the
proxy's ``/metrics``); for streams the time to first byte and the gap between events;
the proxy's CPU milliseconds per request and its RSS (sampled from /proc while the load
runs). ``--compare-direct`` runs each workload at the fake first and reports the latency
the proxy adds. ``--json PATH`` writes the whole report for comparing runs.

    .venv/bin/python -m tests.performance.load_test --workload all --requests 2000 --faults mix

Every run stops by itself: after ``--requests`` requests or ``--duration-s`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.performance.harness import (
    Child,
    ProcessProbe,
    ProcessSampler,
    RequestPlan,
    RunStats,
    drive_load,
    free_port,
    pinned,
    pinned_prefix,
    python_module,
)

CLIENT_TOKEN = "loadtest-client-token-000"
ADMIN_TOKEN = "loadtest-admin-token-000"
MODEL = "gemini-2.5-flash"
PROMPT = "load test me please"
LARGE_IMAGE_BYTES = 768 * 1024  # ~1 MB once base64-encoded
KEY_PREFIX = "AIzaSyLOAD-"
# The fault mix: what the fake does for the keys whose secret starts with each prefix.
FAULT_RULES: tuple[dict[str, Any], ...] = (
    {"key_prefix": f"{KEY_PREFIX}ratelimited-", "behavior": "rate_minute", "retry_delay_s": 3600},
    {"key_prefix": f"{KEY_PREFIX}invalid-", "behavior": "invalid_key"},
    {"key_prefix": f"{KEY_PREFIX}flaky-", "behavior": "flaky", "every": 3},
    {"key_prefix": f"{KEY_PREFIX}slow-", "behavior": "slow", "delay_ms": 500},
)
RATE_LIMITED_SHARE = 0.3


@dataclass(frozen=True)
class Workload:
    """One kind of client request, as sent to the proxy and (for ``--compare-direct``) to the fake."""

    name: str
    proxy_path: str
    direct_path: str
    surface: str  # "gemini" or "openai"
    stream: bool


_NATIVE = f"/v1beta/models/{MODEL}:generateContent"
_NATIVE_STREAM = f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse"
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("native", _NATIVE, _NATIVE, "gemini", stream=False),
        Workload("native-stream", _NATIVE_STREAM, _NATIVE_STREAM, "gemini", stream=True),
        Workload("openai", "/v1/chat/completions", "/v1beta/openai/chat/completions", "openai", stream=False),
        Workload(
            "openai-stream", "/v1/chat/completions", "/v1beta/openai/chat/completions", "openai", stream=True
        ),
    )
}


@dataclass(frozen=True)
class LoadOptions:
    """Everything one load test run is configured with (the command line, parsed)."""

    workloads: tuple[str, ...] = ("native",)
    requests: int = 2000
    concurrency: int = 32
    rate: float | None = None
    duration_s: float = 120.0
    warmup: int = 50
    body: str = "small"
    stream_chunks: int = 10
    chunk_delay_ms: float = 0.0
    upstream_latency_ms: float = 0.0
    keys: int = 20
    faults: str = "none"
    compare_direct: bool = False
    flush_interval_s: float = 5.0
    max_attempts: int | None = None  # the proxy's pool.max_attempts; None keeps its default
    access_log: bool = True
    sample_interval_s: float = 0.25
    proxy_url: str | None = None
    upstream_url: str | None = None
    proxy_pid: int | None = None
    client_token: str = CLIENT_TOKEN
    admin_token: str = ADMIN_TOKEN
    pin: bool = False  # load generator and fake on CPU 0, the proxy alone on CPU 1


# -- requests ------------------------------------------------------------------------


def png_like_base64(size: int) -> str:
    """``size`` bytes that start like a PNG file (deterministic noise after the header), in base64."""
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    return base64.b64encode(header + random.Random(size).randbytes(max(0, size - len(header)))).decode()


def request_body(workload: Workload, body: str) -> bytes:
    """The JSON body of ``workload``: text only (small), or with a ~1 MB inline image (large)."""
    image = png_like_base64(LARGE_IMAGE_BYTES) if body == "large" else None
    if workload.surface == "gemini":
        parts: list[dict[str, Any]] = [{"text": PROMPT}]
        if image is not None:
            parts.append({"inlineData": {"mimeType": "image/png", "data": image}})
        return orjson.dumps({"contents": [{"role": "user", "parts": parts}]})
    content: str | list[dict[str, Any]] = PROMPT
    if image is not None:
        content = [
            {"type": "text", "text": PROMPT},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
        ]
    payload: dict[str, Any] = {"model": MODEL, "messages": [{"role": "user", "content": content}]}
    if workload.stream:
        payload["stream"] = True
    return orjson.dumps(payload)


def request_plan(
    workload: Workload, base_url: str, credential: str, options: LoadOptions, *, direct: bool
) -> RequestPlan:
    """The request ``drive_load`` sends for ``workload`` at the proxy or, ``direct``, at the fake."""
    headers = {
        "Content-Type": "application/json",
        # The fake honours these; the proxy does not forward them, so the fake's own
        # pacing (the scenario it was started with) applies through the proxy.
        "x-fake-chunks": str(options.stream_chunks),
        "x-fake-chunk-delay-ms": str(options.chunk_delay_ms),
    }
    if workload.surface == "openai":
        headers["Authorization"] = f"Bearer {credential}"
    else:
        headers["x-goog-api-key"] = credential
    path = workload.direct_path if direct else workload.proxy_path
    return RequestPlan(base_url + path, request_body(workload, options.body), headers, workload.stream)


# -- the pool, the fake's scenario and the proxy's config ----------------------------


@dataclass(frozen=True)
class PoolKey:
    """One key of the generated pool; ``kind`` is ``ok`` or the fault the fake applies to it."""

    secret: str
    name: str
    kind: str


def _secret(kind: str, index: int) -> str:
    return f"{KEY_PREFIX}{kind}-{index:05d}".ljust(39, "x")


def pool_keys(count: int, faults: str) -> list[PoolKey]:
    """``count`` keys; with the fault mix 30% rate limited, one invalid, one flaky, one slow.

    The faulty keys are spread evenly through the pool order (their kinds shuffled with a
    fixed seed), so a rotation meets them one at a time, as in a pool whose bad keys are
    not bunched together; with at most half of the keys faulty, no two are adjacent.
    """
    if faults != "mix":
        return [PoolKey(_secret("ok", i), f"ok-{i}", "ok") for i in range(count)]
    faulty = ["ratelimited"] * round(count * RATE_LIMITED_SHARE) + ["invalid", "flaky", "slow"]
    if count - len(faulty) < 1:
        raise ValueError(f"--faults mix needs at least 6 keys, got {count}")
    random.Random(count).shuffle(faulty)
    share = len(faulty)
    kinds = []
    for i in range(count):
        # Slot i holds a faulty key when the running share of faulty keys crosses an integer.
        spread = (i + 1) * share // count > i * share // count
        kinds.append(faulty.pop() if spread else "ok")
    return [PoolKey(_secret(kind, i), f"{kind}-{i}", kind) for i, kind in enumerate(kinds)]


def scenario(options: LoadOptions) -> dict[str, Any]:
    """The fake's scenario: pacing, no request recording (bodies may be 1 MB), the fault rules."""
    return {
        "latency_ms": options.upstream_latency_ms,
        "stream_chunks": options.stream_chunks,
        "chunk_delay_ms": options.chunk_delay_ms,
        "record_requests": 0,
        "rules": list(FAULT_RULES) if options.faults == "mix" else [],
    }


def proxy_config(
    upstream_url: str,
    port: int,
    keys: Sequence[PoolKey],
    state_path: Path,
    *,
    flush_interval_s: float,
    access_log: bool,
    max_attempts: int | None = None,
) -> dict[str, Any]:
    """A proxy configuration for ``keys`` in front of ``upstream_url`` on ``port``."""
    config: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": port, "shutdown_grace_s": 5},
        "upstream": {"base_url": upstream_url},
        "auth": {
            "client_tokens": [{"name": "loadtest", "token": CLIENT_TOKEN}],
            "admin_token": ADMIN_TOKEN,
        },
        "keys": [{"key": k.secret, "name": k.name} for k in keys],
        "state": {"path": str(state_path), "flush_interval_s": flush_interval_s},
        "logging": {"level": "info", "format": "json", "access_log": access_log},
    }
    if max_attempts is not None:
        config["pool"] = {"max_attempts": max_attempts}
    return config


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON (which is also YAML) and return ``path``."""
    path.write_text(json.dumps(data, indent=1))
    return path


# -- the processes under test ----------------------------------------------------------


@dataclass
class Targets:
    """Where the load goes, and the processes this tool started (stopped on exit)."""

    proxy_url: str
    upstream_url: str | None
    direct_key: str
    keys: list[PoolKey]
    proxy: Child | None = None
    fake: Child | None = None
    proxy_probe: ProcessProbe | None = None
    config_path: Path | None = None
    exit_codes: dict[str, int] = field(default_factory=dict)


def start_fake(options: LoadOptions, workdir: Path) -> Child:
    """The fake upstream as a child process, with the scenario for ``options``."""
    port = free_port()
    path = write_json(workdir / "scenario.yaml", scenario(options))
    argv = python_module("gemini_proxy.cli", "fake-upstream", "--port", str(port), "--scenario", str(path))
    return Child.start("fake", argv, port, stderr_path=workdir / "fake.stderr")


def start_proxy(config: dict[str, Any], workdir: Path, *, cpu: int | None = None) -> tuple[Child, Path]:
    """The proxy as a child process serving ``config`` (on CPU ``cpu`` alone, if given);
    the child and its config file."""
    port = int(config["server"]["port"])
    path = write_json(workdir / "proxy.yaml", config)
    argv = python_module("gemini_proxy.cli", "serve", "--config", str(path))
    if cpu is not None:
        argv = [*pinned_prefix(cpu), *argv]
    return Child.start("proxy", argv, port, stderr_path=workdir / "proxy.stderr"), path


def cpu_affinity(targets: Targets) -> dict[str, list[int]]:
    """The CPUs this tool and the processes it started may run on."""
    if not hasattr(os, "sched_getaffinity"):
        return {}
    cpus = {"load_generator": sorted(os.sched_getaffinity(0))}
    for child in (targets.fake, targets.proxy):
        if child is not None:
            cpus[child.name] = sorted(os.sched_getaffinity(child.process.pid))
    return cpus


@contextmanager
def started_targets(options: LoadOptions, workdir: Path) -> Iterator[Targets]:
    """Start what ``options`` does not point at (the fake, the proxy); stop them afterwards."""
    if options.faults == "mix" and (options.proxy_url or options.upstream_url):
        raise ValueError("--faults mix needs the fake and the proxy started by this tool")
    keys = pool_keys(options.keys, options.faults)
    direct_key = next(k.secret for k in keys if k.kind == "ok")
    fake: Child | None = None
    proxy: Child | None = None
    exit_codes: dict[str, int] = {}
    try:
        upstream_url = options.upstream_url
        if upstream_url is None and options.proxy_url is None:
            fake = start_fake(options, workdir)
            upstream_url = f"http://127.0.0.1:{fake.port}"
        targets = Targets(
            options.proxy_url or "", upstream_url, direct_key, keys, fake=fake, exit_codes=exit_codes
        )
        if options.proxy_url is None:
            assert upstream_url is not None
            config = proxy_config(
                upstream_url,
                free_port(),
                keys,
                workdir / "state.db",
                flush_interval_s=options.flush_interval_s,
                access_log=options.access_log,
                max_attempts=options.max_attempts,
            )
            proxy, targets.config_path = start_proxy(config, workdir, cpu=1 if options.pin else None)
            targets.proxy = proxy
            targets.proxy_url = f"http://127.0.0.1:{proxy.port}"
            targets.proxy_probe = ProcessProbe(proxy.process.pid)
        elif options.proxy_pid is not None:
            targets.proxy_probe = ProcessProbe(options.proxy_pid)
        yield targets
    finally:
        for child in (proxy, fake):
            if child is not None:
                exit_codes[child.name] = child.stop()


# -- /metrics ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProxyCounters:
    """The proxy's retry and upstream-call counters at one scrape."""

    retries: dict[str, int] = field(default_factory=dict)  # by reason
    upstream_calls: dict[str, int] = field(default_factory=dict)  # by outcome

    def minus(self, earlier: ProxyCounters) -> ProxyCounters:
        def delta(now: dict[str, int], then: dict[str, int]) -> dict[str, int]:
            return {k: v - then.get(k, 0) for k, v in now.items() if v - then.get(k, 0)}

        return ProxyCounters(
            delta(self.retries, earlier.retries), delta(self.upstream_calls, earlier.upstream_calls)
        )


def parse_counters(text: str) -> ProxyCounters:
    """``gemini_proxy_retries_total`` by reason and ``gemini_proxy_upstream_calls_total`` by outcome."""
    retries: dict[str, int] = {}
    calls: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "gemini_proxy_retries_total":
                reason = sample.labels.get("reason", "")
                retries[reason] = retries.get(reason, 0) + round(sample.value)
            elif sample.name == "gemini_proxy_upstream_calls_total":
                outcome = sample.labels.get("outcome", "")
                calls[outcome] = calls.get(outcome, 0) + round(sample.value)
    return ProxyCounters(retries, calls)


async def scrape(proxy_url: str, admin_token: str) -> ProxyCounters | None:
    """The proxy's counters now, or None when ``/metrics`` cannot be read."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.get(f"{proxy_url}/metrics", headers=headers) as response,
        ):
            if response.status != 200:
                return None
            return parse_counters(await response.text())
    except (aiohttp.ClientError, TimeoutError):
        return None


# -- figures -------------------------------------------------------------------------


def percentiles(stats: RunStats, values: list[float], *, with_p90: bool = True) -> dict[str, float]:
    figures = {"p50": stats.percentile(50, values)}
    if with_p90:
        figures["p90"] = stats.percentile(90, values)
    figures["p99"] = stats.percentile(99, values)
    figures["max"] = max(values, default=0.0)
    return {k: round(v, 2) for k, v in figures.items()}


def client_failures(stats: RunStats) -> dict[str, int]:
    """What clients saw go wrong: 429s, 5xx, other non-2xx statuses, transport errors."""
    by_status = stats.statuses
    return {
        "429": by_status.get(429, 0),
        "5xx": sum(n for status, n in by_status.items() if status >= 500),
        "other_status": sum(n for status, n in by_status.items() if status < 200 or 300 <= status < 500)
        - by_status.get(429, 0),
        "transport": stats.errors,
    }


def summarize(stats: RunStats, stream: bool) -> dict[str, Any]:
    """The client-side figures of one run."""
    ok = sum(n for status, n in stats.statuses.items() if 200 <= status < 300)
    failures = client_failures(stats)
    summary: dict[str, Any] = {
        "requests": stats.requests,
        "elapsed_s": round(stats.elapsed_s, 3),
        "rps": round(stats.rps, 1),
        "latency_ms": percentiles(stats, stats.latencies_ms),
        "statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "transport_errors": dict(stats.error_kinds),
        "success_rate": round(ok / stats.requests, 5) if stats.requests else 0.0,
        "client_failures": failures,
        "all_succeeded": stats.requests > 0 and sum(failures.values()) == 0,
        "queued": stats.queued,
    }
    if stream:
        summary["ttfb_ms"] = percentiles(stats, stats.ttfb_ms, with_p90=False)
        summary["gap_ms"] = percentiles(stats, stats.gaps_ms, with_p90=False)
    return summary


def added_latency(direct: dict[str, Any], proxied: dict[str, Any]) -> dict[str, float]:
    """How much later the proxy answered than the fake did (p50/p99, and TTFB for streams)."""
    added = {
        "p50_ms": round(proxied["latency_ms"]["p50"] - direct["latency_ms"]["p50"], 2),
        "p99_ms": round(proxied["latency_ms"]["p99"] - direct["latency_ms"]["p99"], 2),
    }
    if "ttfb_ms" in direct and "ttfb_ms" in proxied:
        added["ttfb_p50_ms"] = round(proxied["ttfb_ms"]["p50"] - direct["ttfb_ms"]["p50"], 2)
        added["ttfb_p99_ms"] = round(proxied["ttfb_ms"]["p99"] - direct["ttfb_ms"]["p99"], 2)
    return added


# -- running ---------------------------------------------------------------------------


async def _drive(plan: RequestPlan, options: LoadOptions, requests: int, stats: RunStats) -> RunStats:
    return await drive_load(
        [plan],
        requests=requests,
        concurrency=options.concurrency,
        rate=options.rate,
        timeout_s=options.duration_s,
        stats=stats,
    )


async def measure_direct(workload: Workload, targets: Targets, options: LoadOptions) -> dict[str, Any]:
    """The workload straight at the fake (warm-up first): the baseline for the proxy's figures."""
    assert targets.upstream_url is not None
    plan = request_plan(workload, targets.upstream_url, targets.direct_key, options, direct=True)
    if options.warmup:
        await _drive(plan, options, options.warmup, RunStats(options.warmup, 0.0))
    stats = await _drive(plan, options, options.requests, RunStats(options.requests, 0.0))
    return summarize(stats, workload.stream)


async def measure_proxy(workload: Workload, targets: Targets, options: LoadOptions) -> dict[str, Any]:
    """The workload through the proxy: client figures, /metrics deltas and /proc samples."""
    plan = request_plan(workload, targets.proxy_url, options.client_token, options, direct=False)
    before_warmup = await scrape(targets.proxy_url, options.admin_token)
    warmup: dict[str, Any] | None = None
    if options.warmup:
        warm = await _drive(plan, options, options.warmup, RunStats(options.warmup, 0.0))
        warmup = {k: v for k, v in summarize(warm, False).items() if k in ("requests", "client_failures")}
    before = await scrape(targets.proxy_url, options.admin_token)
    stats = RunStats(options.requests, 0.0)
    probe = targets.proxy_probe
    cpu_before = probe.cpu_seconds() if probe else 0.0
    if probe is not None:
        async with ProcessSampler(
            probe, options.sample_interval_s, progress=lambda: len(stats.latencies_ms)
        ) as sampler:
            await _drive(plan, options, options.requests, stats)
    else:
        await _drive(plan, options, options.requests, stats)
    after = await scrape(targets.proxy_url, options.admin_token)
    result = summarize(stats, workload.stream)
    if warmup is not None:
        if before_warmup is not None and before is not None:
            warmup["retries"] = sum(before.minus(before_warmup).retries.values())
        result["warmup"] = warmup
    if before is not None and after is not None:
        counters = after.minus(before)
        result["retries"] = {"total": sum(counters.retries.values()), "by_reason": counters.retries}
        result["upstream_calls"] = counters.upstream_calls
    if probe is not None:
        cpu_ms = (probe.cpu_seconds() - cpu_before) * 1000
        result["proxy"] = {
            "cpu_ms_per_request": round(cpu_ms / max(1, stats.requests), 3),
            "rss_mb_start": round(sampler.samples[0].rss_mb, 1),
            "rss_mb_peak_sampled": round(sampler.peak_rss_mb, 1),
            "rss_mb_high_water": round(probe.peak_rss_mb(), 1),
            "fds_start": sampler.samples[0].fds,
            "fds_peak": max(s.fds for s in sampler.samples),
        }
    return result


async def run_all(targets: Targets, options: LoadOptions) -> list[dict[str, Any]]:
    """Every workload in turn (the fake first for each, with ``--compare-direct``)."""
    runs: list[dict[str, Any]] = []
    for name in options.workloads:
        workload = WORKLOADS[name]
        run: dict[str, Any] = {"workload": name}
        if options.compare_direct:
            if targets.upstream_url is None:
                raise ValueError("--compare-direct needs the fake: give --upstream-url with --proxy-url")
            run["direct"] = await measure_direct(workload, targets, options)
        run["proxy"] = await measure_proxy(workload, targets, options)
        if "direct" in run:
            run["added_latency_ms"] = added_latency(run["direct"], run["proxy"])
        runs.append(run)
    return runs


def run(options: LoadOptions) -> dict[str, Any]:
    """Start what is needed, run every workload, stop; the report."""
    with pinned(options.pin), tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        with started_targets(options, Path(tmp)) as targets:
            affinity = cpu_affinity(targets)
            runs = asyncio.run(run_all(targets, options))
        report: dict[str, Any] = {
            "options": {k: v for k, v in asdict(options).items() if k not in ("client_token", "admin_token")},
            "pool": {kind: sum(1 for k in targets.keys if k.kind == kind) for kind in _kinds(targets.keys)},
            "runs": runs,
            "exit_codes": targets.exit_codes,
            "cpus": affinity,
        }
    report["all_succeeded"] = all(r["proxy"]["all_succeeded"] for r in runs)
    report["client_failures"] = sum(sum(r["proxy"]["client_failures"].values()) for r in runs)
    report["warmup_client_failures"] = sum(
        sum(r["proxy"]["warmup"]["client_failures"].values()) for r in runs if "warmup" in r["proxy"]
    )
    return report


def _kinds(keys: Sequence[PoolKey]) -> list[str]:
    return sorted({k.kind for k in keys})


# -- the report ------------------------------------------------------------------------


def _pcts(figures: dict[str, float]) -> str:
    return " / ".join(f"{figures[k]:.1f}" for k in ("p50", "p90", "p99", "max") if k in figures)


def format_run(label: str, figures: dict[str, Any]) -> list[str]:
    failures = figures["client_failures"]
    lines = [
        f"  {label:<7} {figures['requests']:>7} req  {figures['rps']:>8.1f} req/s  "
        f"latency ms p50/p90/p99/max {_pcts(figures['latency_ms'])}",
        f"          statuses {figures['statuses']}  success {figures['success_rate'] * 100:.2f}%  "
        f"client saw 429: {failures['429']}  5xx: {failures['5xx']}  other: {failures['other_status']}  "
        f"transport: {failures['transport']}"
        + (f"  queued: {figures['queued']}" if figures["queued"] else ""),
    ]
    if "ttfb_ms" in figures:
        lines.append(
            f"          stream TTFB ms p50/p99/max {_pcts(figures['ttfb_ms'])}   "
            f"event gap ms p50/p99/max {_pcts(figures['gap_ms'])}"
        )
    if "retries" in figures:
        lines.append(
            f"          retries {figures['retries']['total']} {figures['retries']['by_reason'] or ''}  "
            f"upstream calls {figures['upstream_calls']}"
        )
    if "warmup" in figures:
        warm = figures["warmup"]
        lines.append(
            f"          warm-up {warm['requests']} req, client failures {sum(warm['client_failures'].values())}, "
            f"retries {warm.get('retries', '?')}"
        )
    if "proxy" in figures:
        proc = figures["proxy"]
        lines.append(
            f"          proxy CPU {proc['cpu_ms_per_request']:.3f} ms/req  RSS {proc['rss_mb_start']:.1f} -> "
            f"peak {proc['rss_mb_peak_sampled']:.1f} MB (high water {proc['rss_mb_high_water']:.1f})  "
            f"fds {proc['fds_start']} -> peak {proc['fds_peak']}"
        )
    return lines


def format_report(report: dict[str, Any]) -> str:
    options = report["options"]
    mode = f"rate {options['rate']}/s (cap {options['concurrency']})" if options["rate"] else None
    lines = [
        f"load test: {options['requests']} requests per workload, "
        f"{mode or 'concurrency ' + str(options['concurrency'])}, body {options['body']}, "
        f"{options['keys']} keys {report['pool']}, faults {options['faults']}, "
        f"stream {options['stream_chunks']} chunks / {options['chunk_delay_ms']} ms"
    ]
    if options["pin"]:
        lines.append(f"pinned: CPUs {report['cpus']}")
    for run in report["runs"]:
        lines.append(f"{run['workload']}")
        if "direct" in run:
            lines.extend(format_run("direct", run["direct"]))
        lines.extend(format_run("proxy", run["proxy"]))
        if "added_latency_ms" in run:
            lines.append(f"  added by the proxy (ms): {run['added_latency_ms']}")
    verdict = (
        "every measured client request succeeded"
        if report["all_succeeded"]
        else f"SOME CLIENT REQUESTS FAILED ({report['client_failures']})"
    )
    lines.append(
        f"{verdict}; warm-up client failures {report['warmup_client_failures']}; "
        f"exit codes {report['exit_codes']}"
    )
    return "\n".join(lines)


# -- command line ------------------------------------------------------------------------


def parse_options(argv: Sequence[str] | None = None) -> tuple[LoadOptions, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--workload", default="native", help=f"comma-separated, or all: {', '.join(WORKLOADS)}"
    )
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per workload")
    parser.add_argument("--concurrency", type=int, default=32, help="workers (closed loop) or in-flight cap")
    parser.add_argument("--rate", type=float, help="open loop: requests per second")
    parser.add_argument("--duration-s", type=float, default=120.0, help="time bound of each run")
    parser.add_argument("--warmup", type=int, default=50, help="unmeasured requests before each run")
    parser.add_argument("--body", choices=["small", "large"], default="small")
    parser.add_argument("--stream-chunks", type=int, default=10)
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    parser.add_argument("--upstream-latency-ms", type=float, default=0.0, help="the fake's added latency")
    parser.add_argument("--keys", type=int, default=20, help="keys in the pool")
    parser.add_argument("--faults", choices=["none", "mix"], default="none")
    parser.add_argument("--compare-direct", action="store_true")
    parser.add_argument(
        "--flush-interval-s", type=float, default=5.0, help="the proxy's state.flush_interval_s"
    )
    parser.add_argument("--max-attempts", type=int, help="the proxy's pool.max_attempts (default: its own)")
    parser.add_argument("--no-access-log", action="store_true", help="run the proxy without its access log")
    parser.add_argument("--proxy-url", help="a running proxy (nothing is started)")
    parser.add_argument("--proxy-pid", type=int, help="with --proxy-url: sample this process's CPU and RSS")
    parser.add_argument("--upstream-url", help="a running fake upstream")
    parser.add_argument("--client-token", default=CLIENT_TOKEN, help="with --proxy-url")
    parser.add_argument("--admin-token", default=ADMIN_TOKEN, help="with --proxy-url, for /metrics")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="run this tool and the fake on CPU 0 and the proxy alone on CPU 1 (Linux, 2+ CPUs)",
    )
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    names = tuple(WORKLOADS) if args.workload == "all" else tuple(args.workload.split(","))
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload {', '.join(unknown)} (expected {', '.join(WORKLOADS)} or all)")
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    options = LoadOptions(
        workloads=names,
        requests=args.requests,
        concurrency=args.concurrency,
        rate=args.rate,
        duration_s=args.duration_s,
        warmup=args.warmup,
        body=args.body,
        stream_chunks=args.stream_chunks,
        chunk_delay_ms=args.chunk_delay_ms,
        upstream_latency_ms=args.upstream_latency_ms,
        keys=args.keys,
        faults=args.faults,
        compare_direct=args.compare_direct,
        flush_interval_s=args.flush_interval_s,
        max_attempts=args.max_attempts,
        access_log=not args.no_access_log,
        proxy_url=args.proxy_url.rstrip("/") if args.proxy_url else None,
        upstream_url=args.upstream_url.rstrip("/") if args.upstream_url else None,
        proxy_pid=args.proxy_pid,
        client_token=args.client_token,
        admin_token=args.admin_token,
        pin=args.pin,
    )
    return options, args.json


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the report, write it with ``--json``; exit 1 when a client request failed."""
    options, json_path = parse_options(argv)
    try:
        report = run(options)
    except ValueError as exc:
        print(f"load_test: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2))
        print(f"report written to {json_path}")
    return 0 if report["all_succeeded"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
