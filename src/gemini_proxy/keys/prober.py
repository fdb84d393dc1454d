"""The background loop that re-tests disabled keys when their probe is due.

The probe itself is supplied by the caller: a cheap request that costs no generation
quota (the app uses a models GET), classified into an ``Outcome``. The loop never
generates content. Probes run one after another, so a key is never probed twice at
once; a probe that raises counts as a transient failure so the loop keeps going.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.keys.pool import KeyPool

PROBE_ERROR = Outcome(OutcomeKind.TRANSIENT, "probe_error")


async def probe_due_keys(
    pool: KeyPool, probe: Callable[[str], Awaitable[Outcome]], *, clock: Callable[[], float]
) -> int:
    """Probe every key due now, record each result, and return how many were probed."""
    probed = 0
    for key_id, secret in pool.due_for_probe(clock()):
        try:
            outcome = await probe(secret)
        except asyncio.CancelledError:
            raise
        except Exception:  # the probe's own failure; the key is judged, the loop lives on
            outcome = PROBE_ERROR
        pool.record_probe(key_id, outcome)
        probed += 1
    return probed


async def run_prober(
    pool: KeyPool,
    probe: Callable[[str], Awaitable[Outcome]],
    *,
    interval_s: float,
    clock: Callable[[], float],
    stop: asyncio.Event,
) -> None:
    """Every ``interval_s``, probe the disabled keys that are due, until ``stop`` is set."""
    if interval_s <= 0:
        raise ValueError("interval_s must be positive")
    while not stop.is_set():
        await probe_due_keys(pool, probe, clock=clock)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
