"""The admin API's JSON shapes (``contracts/admin-api.yaml``), built from read-only views.

Pure functions, no I/O. Times are ISO 8601 UTC strings with milliseconds (``...Z``);
keys appear by id and masked form only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from gemini_proxy.errors import ProxyError
from gemini_proxy.keys.outcome import Outcome
from gemini_proxy.keys.views import KeyStatus, KeyView, PoolSummary
from gemini_proxy.keys_check import ProbeResult, probe_result
from gemini_proxy.observability.activity import KeyFailure
from gemini_proxy.reload import ReloadResult

# Machine codes for errors raised without one (aiohttp's 404/405, internal errors).
_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    503: "unavailable",
}


def iso(timestamp: float | None) -> str | None:
    """A Unix time as ``2025-06-02T12:00:00.000Z``; ``None`` stays ``None``."""
    if timestamp is None:
        return None
    text = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def admin_error_body(error: ProxyError) -> dict[str, Any]:
    """``{"error": {"code", "message"}}``."""
    code = error.code or _CODES.get(error.status, "internal_error" if error.status >= 500 else "error")
    return {"error": {"code": code, "message": error.message}}


def key_json(view: KeyView) -> dict[str, Any]:
    """One key: identity, state, breaker, cooldowns, limit usage, counters, last error."""
    disabled = None
    if view.status is KeyStatus.DISABLED:
        disabled = {
            "reason": view.disabled_reason,
            "at": iso(view.disabled_at),
            "next_probe_at": iso(view.next_probe_at),
        }
    last_error = None
    if view.last_error is not None:
        last_error = {"reason": view.last_error, "at": iso(view.last_error_at)}
    return {
        "id": view.key_id,
        "masked": view.masked,
        "name": view.name,
        "project": view.project,
        "weight": view.weight,
        "source": "config" if view.added_at is None else "admin",
        "added_at": iso(view.added_at),
        "state": view.status.value,
        "health": view.health,
        "breaker": {
            "state": view.breaker_state.value,
            "level": view.breaker_level,
            "consecutive_failures": view.consecutive_failures,
            "open_until": iso(view.open_until),
        },
        "cooldowns": [
            {"model": c.model, "until": iso(c.until), "reason": c.reason, "per_day": c.per_day}
            for c in view.cooldowns
        ],
        "usage": [
            {
                "model": u.model,
                "rpm": u.rpm,
                "rpd": u.rpd,
                "tpm": u.tpm,
                "requests_last_minute": u.requests_last_minute,
                "tokens_last_minute": u.tokens_last_minute,
                "requests_today": u.requests_today,
                "tokens_today": u.tokens_today,
                "frees_at": iso(u.frees_at),
            }
            for u in view.usage
        ],
        "counters": {
            "requests": view.requests,
            "failures": view.failures,
            "in_flight": view.in_flight,
            "outcomes": dict(view.outcomes),
        },
        "last_error": last_error,
        "disabled": disabled,
    }


def pool_json(
    summary: PoolSummary,
    models: Iterable[tuple[str, int, int, float | None]],
    next_recovery: float | None,
    store_name: str,
    store_backend: str,
) -> dict[str, Any]:
    """The pool overview; ``models`` holds ``(model, available, cooling, earliest recovery)``."""
    return {
        "keys": {
            "total": summary.total,
            "active": summary.active,
            "cooling": summary.cooling,
            "open": summary.open,
            "half_open": summary.half_open,
            "disabled": summary.disabled,
        },
        "usable": summary.usable,
        "in_flight": summary.in_flight,
        "earliest_recovery": iso(next_recovery),
        "models": [
            {"model": model, "available": available, "cooling": cooling, "earliest_recovery": iso(recovery)}
            for model, available, cooling, recovery in models
        ],
        "store": {"name": store_name, "backend": store_backend},
    }


def probe_json(view: KeyView, outcome: Outcome) -> dict[str, Any]:
    """One key's probe result, and the state the key is in after it."""
    return {
        "id": view.key_id,
        "masked": view.masked,
        "name": view.name,
        "result": probe_result(outcome).value,
        "outcome": outcome.kind.value,
        "reason": outcome.reason,
        "state": view.status.value,
    }


def probe_summary(results: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many keys got each probe result."""
    counts = dict.fromkeys((result.value for result in ProbeResult), 0)
    for result in results:
        counts[result["result"]] += 1
    return counts


def errors_json(key_id: str, failures: Iterable[KeyFailure]) -> dict[str, Any]:
    """A key's recent errors, newest first."""
    return {
        "id": key_id,
        "errors": [
            {
                "at": iso(f.at),
                "source": f.source,
                "kind": f.kind,
                "reason": f.reason,
                "model": f.model,
                "duration_ms": None if f.duration_s is None else round(f.duration_s * 1000, 3),
            }
            for f in failures
        ],
    }


def reload_json(result: ReloadResult) -> dict[str, Any]:
    """What a configuration reload changed."""
    return {
        "source": result.source,
        "added": result.added,
        "removed": result.removed,
        "changed": result.changed,
        "restart_required": result.restart_required,
        "keys": result.keys,
    }
