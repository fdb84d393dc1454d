"""Probing keys against the upstream: what a probe says about a key, and the
``gemini-proxy keys check`` command (every configured key, a progress bar, a table).

A probe is a models GET (``background.models_probe``): it proves the key is accepted and
costs no generation quota. Its outcome reads as one of five results: the key is valid,
invalid (rejected), valid but out of quota (rate limited), unreachable (timeout,
connection error, 5xx), or an unexpected client error.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from gemini_proxy.background import models_probe
from gemini_proxy.config import Settings
from gemini_proxy.errors import UpstreamError, UpstreamTimeout
from gemini_proxy.keys.classify import classify_upstream_response
from gemini_proxy.keys.model import key_id, mask
from gemini_proxy.keys.outcome import Outcome, OutcomeKind
from gemini_proxy.upstream.client import UpstreamClient

Probe = Callable[[str], Awaitable[Outcome]]
DEFAULT_CONCURRENCY = 4
_BAR_WIDTH = 30


class ProbeResult(enum.StrEnum):
    """What one probe says about a key."""

    VALID = "valid"
    INVALID = "invalid"
    QUOTA_EXHAUSTED = "quota_exhausted"
    UNREACHABLE = "unreachable"
    ERROR = "error"


_RESULTS = {
    OutcomeKind.SUCCESS: ProbeResult.VALID,
    OutcomeKind.KEY_REJECTED: ProbeResult.INVALID,
    OutcomeKind.RATE_LIMITED: ProbeResult.QUOTA_EXHAUSTED,
    OutcomeKind.TRANSIENT: ProbeResult.UNREACHABLE,
    OutcomeKind.CLIENT_ERROR: ProbeResult.ERROR,
}
# Results that say the key itself is fine.
USABLE = frozenset({ProbeResult.VALID, ProbeResult.QUOTA_EXHAUSTED})


def probe_result(outcome: Outcome) -> ProbeResult:
    """The result an outcome stands for."""
    return _RESULTS[outcome.kind]


async def probe_outcome(probe: Probe, secret: str) -> Outcome:
    """Run ``probe``; a transport failure is a transient outcome rather than an exception."""
    try:
        return await probe(secret)
    except UpstreamTimeout:
        return classify_upstream_response(None, {}, None, "timeout")
    except UpstreamError:
        return classify_upstream_response(None, {}, None, "connect_error")


@dataclass(frozen=True, slots=True)
class KeyCheck:
    """One configured key's probe result (no raw key)."""

    key_id: str
    masked: str
    name: str
    result: ProbeResult
    reason: str


async def probe_all(
    secrets: Sequence[str],
    probe: Probe,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int, int], None] | None = None,
) -> list[Outcome]:
    """Probe each secret, at most ``concurrency`` at once; the outcomes in the same order."""
    semaphore = asyncio.Semaphore(concurrency)
    done = 0
    total = len(secrets)
    if progress is not None:
        progress(0, total)

    async def one(secret: str) -> Outcome:
        nonlocal done
        async with semaphore:
            outcome = await probe_outcome(probe, secret)
        done += 1
        if progress is not None:
            progress(done, total)
        return outcome

    return list(await asyncio.gather(*(one(secret) for secret in secrets)))


async def check_secrets(
    secrets: Sequence[tuple[str, str]],
    probe: Probe,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int, int], None] | None = None,
) -> list[KeyCheck]:
    """Probe each ``(secret, name)``; one ``KeyCheck`` per key, in order."""
    outcomes = await probe_all(
        [secret for secret, _ in secrets], probe, concurrency=concurrency, progress=progress
    )
    return [
        KeyCheck(key_id(secret), mask(secret), name, probe_result(outcome), outcome.reason)
        for (secret, name), outcome in zip(secrets, outcomes, strict=True)
    ]


async def check_configured_keys(
    settings: Settings, *, progress: Callable[[int, int], None] | None = None
) -> list[KeyCheck]:
    """Probe every key of ``settings`` against its upstream."""
    client = UpstreamClient(
        settings.upstream.base_url,
        connect_timeout_s=settings.upstream.connect_timeout_s,
        request_timeout_s=min(settings.upstream.request_timeout_s, 30.0),
        max_connections=settings.upstream.max_connections,
    )
    await client.start()
    try:
        return await check_secrets(
            [(key.key, key.name) for key in settings.keys],
            models_probe(client, settings.models.default),
            progress=progress,
        )
    finally:
        await client.close()


def progress_bar(stream: TextIO) -> Callable[[int, int], None]:
    """A one-line text progress bar redrawn in place on ``stream``; a newline when complete."""

    def show(done: int, total: int) -> None:
        filled = _BAR_WIDTH * done // total if total else _BAR_WIDTH
        stream.write(f"\rchecking keys [{'#' * filled}{'-' * (_BAR_WIDTH - filled)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def format_table(checks: Sequence[KeyCheck]) -> str:
    """The results as an aligned text table, with a count per result under it."""
    header = ("ID", "NAME", "KEY", "RESULT", "DETAIL")
    rows = [(c.key_id, c.name or "-", c.masked, c.result.value, c.reason or "-") for c in checks]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    counts = {result: sum(1 for c in checks if c.result is result) for result in ProbeResult}
    lines.append("")
    lines.append(", ".join(f"{count} {result.value.replace('_', ' ')}" for result, count in counts.items()))
    return "\n".join(lines)


def run_keys_check(settings: Settings, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """``gemini-proxy keys check``: 0 when every key is usable (valid, or only out of quota), else 1."""
    if not settings.keys:
        print("gemini-proxy: no keys are configured", file=err)
        return 1
    checks = asyncio.run(check_configured_keys(settings, progress=progress_bar(err)))
    print(format_table(checks), file=out)
    return 0 if all(check.result in USABLE for check in checks) else 1
