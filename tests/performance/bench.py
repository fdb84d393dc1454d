"""``make bench``: the proxy against a bare aiohttp relay and the fake upstream called
directly, same workloads, same concurrency, same run. Bounded, loopback only.

Prints requests/s, p50/p99 latency and CPU milliseconds per request of the relaying
process (from /proc), and the proxy/relay and proxy/direct ratios. Writes the figures
to ``bench-results/bench.json``.

``--pin`` (what ``make bench`` runs) puts this process and the fake upstream on CPU 0
and the relay and the proxy on CPU 1, one after the other: the process measured has a
core to itself, as it would in production, and its CPU per request is not inflated by
the load generator and the fake evicting its caches on a shared core (unpinned, that
inflation is larger for the larger process, the proxy). The request rate is then capped
by CPU 0, so the throughput ratio is only telling unpinned.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from tests.performance import load_test
from tests.performance.harness import Child, RunStats, drive, free_port, pinned, pinned_prefix, python_module

TOKEN = "bench-client-token-000"
KEYS = [f"AIzaSyBENCH{i:02d}abcdefghijklmnopqrstuvw" for i in range(8)]
GEMINI_BODY = orjson.dumps({"contents": [{"role": "user", "parts": [{"text": "benchmark me please"}]}]})
OPENAI_BODY = orjson.dumps(
    {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "benchmark me please"}]}
)
OPENAI_STREAM_BODY = orjson.dumps(
    {
        "model": "gemini-2.5-flash",
        "stream": True,
        "messages": [{"role": "user", "content": "benchmark me please"}],
    }
)


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    body: bytes
    stream: bool
    surface: str  # which proxy surface; "gemini" workloads also run direct and via the bare relay


# The floor each workload is compared with: the same upstream call, native, sent directly
# to the fake upstream and through the bare relay.
_FLOORS = {
    False: Workload(
        "native generate", "/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_BODY, False, "gemini"
    ),
    True: Workload(
        "native stream",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        GEMINI_BODY,
        True,
        "gemini",
    ),
}

WORKLOADS = [
    Workload(
        "native generate", "/v1beta/models/gemini-2.5-flash:generateContent", GEMINI_BODY, False, "gemini"
    ),
    Workload(
        "native stream",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        GEMINI_BODY,
        True,
        "gemini",
    ),
    Workload("openai chat", "/v1/chat/completions", OPENAI_BODY, False, "openai"),
    Workload("openai chat stream", "/v1/chat/completions", OPENAI_STREAM_BODY, True, "openai"),
]


def _proxy_config(upstream: str, port: int, state_dir: Path) -> Path:
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "upstream": {"base_url": upstream},
        "auth": {
            "client_tokens": [{"name": "bench", "token": TOKEN}],
            "admin_token": "bench-admin-token-000",
        },
        "keys": [{"key": k} for k in KEYS],
        "state": {"path": str(state_dir / "state.db"), "flush_interval_s": 5},
        "logging": {
            "level": "info",
            "format": "json",
            "access_log": os.environ.get("BENCH_ACCESS_LOG", "1") == "1",
        },
    }
    path = state_dir / "proxy.yaml"
    path.write_text(json.dumps(config))
    return path


def _row(label: str, stats: RunStats, cpu_ms: float | None) -> dict[str, float | str | None]:
    return {
        "target": label,
        "rps": round(stats.rps, 1),
        "p50_ms": round(stats.percentile(50), 2),
        "p99_ms": round(stats.percentile(99), 2),
        "cpu_ms_per_req": None if cpu_ms is None else round(cpu_ms, 3),
        "ok": stats.statuses.get(200, 0),
        "requests": stats.requests,
    }


async def _measure(
    child: Child | None, url: str, workload: Workload, requests: int, concurrency: int
) -> tuple[RunStats, float | None]:
    headers = {"Content-Type": "application/json"}
    if workload.surface == "openai":
        headers["Authorization"] = f"Bearer {TOKEN}"
    else:
        headers["x-goog-api-key"] = TOKEN
    before = child.cpu_seconds() if child else 0.0
    stats = await drive(
        url + workload.path,
        body=workload.body,
        headers=headers,
        requests=requests,
        concurrency=concurrency,
        stream=workload.stream,
    )
    cpu_ms = (child.cpu_seconds() - before) * 1000 / max(1, stats.requests) if child else None
    return stats, cpu_ms


def with_large_bodies(workloads: list[Workload]) -> tuple[list[Workload], dict[bool, Workload]]:
    """``workloads`` and their floors with the load test's ~1 MB image in every request
    (``inlineData`` natively, a ``data:`` URL for OpenAI)."""

    def large(workload: Workload) -> Workload:
        kind = ("openai" if workload.surface == "openai" else "native") + (
            "-stream" if workload.stream else ""
        )
        body = load_test.request_body(load_test.WORKLOADS[kind], "large")
        return dataclasses.replace(workload, name=workload.name + " 1MB", body=body)

    return [large(w) for w in workloads], {stream: large(w) for stream, w in _FLOORS.items()}


async def run(
    requests: int,
    concurrency: int,
    repeats: int,
    workloads: list[Workload],
    *,
    pin: bool = False,
    floors: dict[bool, Workload] | None = None,
) -> list[dict[str, object]]:
    """Every workload against the three targets (the floor of a workload: ``floors``, by
    whether it streams); with ``pin`` the relay and the proxy run on CPU 1 (call it
    inside ``pinned(True)``, which puts this process on CPU 0)."""
    floors = floors or _FLOORS
    measured = pinned_prefix(1) if pin else []
    fake_port, relay_port, proxy_port = free_port(), free_port(), free_port()
    fake_url = f"http://127.0.0.1:{fake_port}"
    results: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        fake = Child.start(
            "fake",
            python_module(
                "gemini_proxy.cli", "fake-upstream", "--port", str(fake_port), "--stream-chunks", "10"
            ),
            fake_port,
        )
        relay = Child.start(
            "relay",
            measured
            + python_module(
                "tests.performance.bare_relay",
                "--upstream",
                fake_url,
                "--port",
                str(relay_port),
                "--key",
                KEYS[0],
            ),
            relay_port,
        )
        proxy = Child.start(
            "proxy",
            measured
            + python_module(
                "gemini_proxy.cli", "serve", "--config", str(_proxy_config(fake_url, proxy_port, Path(tmp)))
            ),
            proxy_port,
        )
        cpus = {child.name: sorted(os.sched_getaffinity(child.process.pid)) for child in (fake, relay, proxy)}
        try:
            for workload in workloads:
                floor = floors[workload.stream]
                relay_url = f"http://127.0.0.1:{relay_port}"
                targets: list[tuple[str, Child | None, str, Workload]] = [
                    ("direct", None, fake_url, floor),
                    ("bare relay", relay, relay_url, floor),
                    ("proxy", proxy, f"http://127.0.0.1:{proxy_port}", workload),
                ]
                for _, child, url, load in targets:  # warm-up
                    await _measure(child, url, load, min(300, requests), concurrency)
                runs: dict[str, list[dict[str, float | str | None]]] = {label: [] for label, *_ in targets}
                for _ in range(repeats):
                    for label, child, url, load in targets:
                        stats, cpu = await _measure(child, url, load, requests, concurrency)
                        runs[label].append(_row(label, stats, cpu))
                summary = {label: _median_row(rows) for label, rows in runs.items()}
                results.append(
                    {
                        "workload": workload.name,
                        "pinned": pin,
                        "cpus": cpus,
                        "rows": list(summary.values()),
                        # each repeat runs relay and proxy back to back: their ratio is paired
                        "cpu_ratio": _paired_ratio(runs["proxy"], runs["bare relay"], "cpu_ms_per_req"),
                        "throughput_ratio": _paired_ratio(runs["proxy"], runs["direct"], "rps"),
                    }
                )
        finally:
            for child in (proxy, relay, fake):
                child.stop()
    return results


def _paired_ratio(
    rows: list[dict[str, float | str | None]], base: list[dict[str, float | str | None]], field: str
) -> float:
    """Median over the repeats of rows[i][field] / base[i][field]."""
    return round(
        statistics.median(
            float(a[field] or 0) / float(b[field] or 1) for a, b in zip(rows, base, strict=True)
        ),
        3,
    )


def _median_row(rows: list[dict[str, float | str | None]]) -> dict[str, float | str | None]:
    """Each figure's median over the repeats (the repeats alternate between targets)."""
    merged: dict[str, float | str | None] = dict(rows[0])
    for field in ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "ok", "requests"):
        values = sorted(float(value) for r in rows if (value := r[field]) is not None)
        if values:
            merged[field] = round(statistics.median(values), 3)
    return merged


def _ratios(results: list[dict[str, object]]) -> list[str]:
    return [
        f"{result['workload']!s:22s} proxy/relay CPU per request {float(str(result['cpu_ratio'])):5.2f}x"
        f"   proxy/direct throughput {float(str(result['throughput_ratio'])):5.2f}"
        for result in results
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["native", "openai"], help="run one surface only")
    parser.add_argument(
        "--pin", action="store_true", help="this process and the fake on CPU 0, relay and proxy on CPU 1"
    )
    parser.add_argument(
        "--body",
        choices=["small", "large"],
        default="small",
        help="large: a ~1 MB image in every request (use fewer --requests)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results/bench.json"))
    args = parser.parse_args(argv)
    workloads = [w for w in WORKLOADS if args.only is None or w.name.startswith(args.only)]
    floors = _FLOORS
    if args.body == "large":
        workloads, floors = with_large_bodies(workloads)
    with pinned(args.pin):
        results = asyncio.run(
            run(args.requests, args.concurrency, args.repeats, workloads, pin=args.pin, floors=floors)
        )
    if args.pin:
        print("pinned: load generator and fake upstream on CPU 0, relay and proxy on CPU 1")
    print(
        f"{'workload':22s} {'target':11s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'CPU ms/req':>11s} {'ok':>6s}"
    )
    for result in results:
        for row in result["rows"]:  # type: ignore[attr-defined]
            cpu = "-" if row["cpu_ms_per_req"] is None else f"{row['cpu_ms_per_req']:.3f}"
            print(
                f"{result['workload']:22s} {row['target']:11s} {row['rps']:8.1f} {row['p50_ms']:8.2f} "
                f"{row['p99_ms']:8.2f} {cpu:>11s} {int(row['ok']):6d}"
            )
    for line in _ratios(results):
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
