"""Micro-benchmark: key picks per second for pools of 100, 1,000 and 10,000 keys.

Not collected by pytest (no ``test_`` prefix). Run from the repository root:

    .venv/bin/python -m tests.performance.bench_scheduler [picks]

For each size it builds a ``KeyPool`` (default round robin), puts half of the keys out
of rotation (a quarter cooling for the benchmarked model, a quarter with an open
breaker), then does ``picks`` acquire/release cycles (default 1,000,000) on a fake clock
that advances 10 ms per pick (100 requests per second), releasing a mix of outcomes: mostly successes, some 429s
with and without a delay, transient errors and client errors. It prints picks/s for the
acquire alone and for the whole cycle. If a pick scanned the pool, the 10,000-key rate
would be a hundred times lower than the 100-key rate; it stays roughly flat.
"""

from __future__ import annotations

import random
import sys
import time

from gemini_proxy.errors import NoKeyAvailable
from gemini_proxy.keys.model import KeySpec
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.policy import PoolPolicy
from gemini_proxy.keys.pool import KeyPool

MODEL = "gemini-2.5-flash"
SIZES = (100, 1_000, 10_000)
TICK_S = 0.01

OUTCOME_MIX: tuple[tuple[float, Outcome], ...] = (
    (0.93, SUCCESS),
    (0.96, Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=20.0)),
    (0.98, Outcome(OutcomeKind.TRANSIENT, "http_500")),
    (0.99, Outcome(OutcomeKind.CLIENT_ERROR, "http_400")),
    (1.00, Outcome(OutcomeKind.RATE_LIMITED, "bare_429")),
)
LONG_COOLDOWN = Outcome(OutcomeKind.RATE_LIMITED, "per_minute_quota", retry_after_s=10_000.0)
FAILURE = Outcome(OutcomeKind.TRANSIENT, "http_500")


class FakeClock:
    """Time that moves only when the benchmark says so."""

    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


def build_pool(size: int, clock: FakeClock) -> KeyPool:
    """A pool of ``size`` keys, a quarter cooling for MODEL and a quarter with an open breaker."""
    specs = [KeySpec(f"AIzaSyBENCH{i:028d}") for i in range(size)]
    policy = PoolPolicy(backoff_base_s=300.0, backoff_max_s=3600.0)
    pool = KeyPool(specs, policy, clock=clock, rng=random.Random(1))
    ids = [view.key_id for view in pool.views()]
    to_cool, to_open = set(ids[1::4]), set(ids[3::4])
    for _ in range(size * policy.failure_threshold):
        lease = pool.acquire(MODEL)
        if lease.key_id in to_cool:
            pool.release(lease, LONG_COOLDOWN, latency_s=0.1)
        elif lease.key_id in to_open:
            pool.release(lease, FAILURE, latency_s=0.1)
        else:
            pool.release(lease, SUCCESS, latency_s=0.1)
    summary = pool.summary()
    assert summary.cooling + summary.open == size // 2, summary
    return pool


def outcome_script(picks: int, rng: random.Random) -> list[Outcome]:
    """The outcome released after each pick, drawn from OUTCOME_MIX."""
    script = []
    for _ in range(picks):
        draw = rng.random()
        script.append(next(outcome for bound, outcome in OUTCOME_MIX if draw < bound))
    return script


def run(size: int, picks: int) -> tuple[float, float, int]:
    """(acquire picks/s, acquire+release cycles/s, refused picks) for one pool size."""
    clock = FakeClock()
    pool = build_pool(size, clock)
    script = outcome_script(picks, random.Random(size))
    acquire = pool.acquire
    release = pool.release
    acquire_time = 0.0
    refused = 0
    started = time.perf_counter()
    for outcome in script:
        clock.now += TICK_S
        before = time.perf_counter()
        try:
            lease = acquire(MODEL)
        except NoKeyAvailable:
            refused += 1
            continue
        finally:
            acquire_time += time.perf_counter() - before
        release(lease, outcome, latency_s=0.2)
    total = time.perf_counter() - started
    return picks / acquire_time, picks / total, refused


def main(argv: list[str] | None = None) -> None:
    """Run every size and print one line each."""
    args = sys.argv[1:] if argv is None else argv
    picks = int(args[0]) if args else 1_000_000
    print(f"{picks:,} picks per size, half of the keys cooling or open at the start")
    for size in SIZES:
        picks_per_s, cycles_per_s, refused = run(size, picks)
        print(
            f"{size:>6,} keys: {picks_per_s:>10,.0f} picks/s   "
            f"{cycles_per_s:>10,.0f} acquire+release/s   {refused:,} refused"
        )


if __name__ == "__main__":
    main()
