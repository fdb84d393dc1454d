"""Turning the matched rule into what happens to one request: answer, error, delay or a cut.

Quota emulation comes first (a request over the rule's rpm/rpd gets the real 429 for
that window), then the rule's behaviour. Only calls that spend generation or embedding
quota use rpm/rpd; the behaviours apply to every route a rule matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gemini_proxy.fake_upstream import google_errors
from gemini_proxy.fake_upstream.google_errors import GoogleError
from gemini_proxy.fake_upstream.quota import QuotaWindow, seconds_until_quota_day_ends
from gemini_proxy.fake_upstream.routing import ApiMethod
from gemini_proxy.fake_upstream.scenario import Behavior, Rule
from gemini_proxy.fake_upstream.state import FakeState

QUOTA_METHODS = frozenset(
    {
        ApiMethod.GENERATE_CONTENT,
        ApiMethod.STREAM_GENERATE_CONTENT,
        ApiMethod.EMBED_CONTENT,
        ApiMethod.BATCH_EMBED_CONTENTS,
        ApiMethod.OPENAI_CHAT_COMPLETIONS,
        ApiMethod.OPENAI_EMBEDDINGS,
    }
)


class FaultKind(StrEnum):
    """The ways a request can go wrong, besides a normal answer."""

    NONE = "none"
    ERROR = "error"
    HANG_UP = "hang_up"
    CUT_STREAM = "cut_stream"
    STREAM_ERROR = "stream_error"


@dataclass(frozen=True)
class Fault:
    """What to do with a request: an optional delay, then a normal answer or a failure."""

    kind: FaultKind = FaultKind.NONE
    error: GoogleError | None = None
    delay_ms: float = 0.0


NO_FAULT = Fault()

_STREAM_FAULTS = {
    Behavior.CUT_STREAM: FaultKind.CUT_STREAM,
    Behavior.STREAM_ERROR: FaultKind.STREAM_ERROR,
    Behavior.HANG_UP: FaultKind.HANG_UP,
}

_ERROR_BEHAVIORS = {
    Behavior.INVALID_KEY: google_errors.invalid_key,
    Behavior.EXPIRED_KEY: google_errors.expired_key,
    Behavior.PERMISSION_DENIED: google_errors.service_disabled,
    Behavior.UNAUTHENTICATED: google_errors.unauthenticated,
    Behavior.RATE_BARE: google_errors.rate_bare,
    Behavior.SERVER_ERROR: google_errors.internal_error,
    Behavior.UNAVAILABLE: google_errors.overloaded,
}


def _error(error: GoogleError, delay_ms: float = 0.0) -> Fault:
    return Fault(FaultKind.ERROR, error, delay_ms)


def _quota_fault(
    state: FakeState, rule: Rule, key: str, model: str | None, method: ApiMethod
) -> Fault | None:
    if method not in QUOTA_METHODS:
        return None
    exceeded = state.use_quota(rule, key, model)
    if exceeded is None:
        return None
    if exceeded.window is QuotaWindow.DAY:
        return _error(google_errors.rate_per_day(model, exceeded.retry_after_s, exceeded.limit))
    return _error(google_errors.rate_per_minute(model, exceeded.retry_after_s, exceeded.limit))


def decide_fault(state: FakeState, key: str, model: str | None, method: ApiMethod) -> Fault:
    """The fault for this request under the first matching rule (``NO_FAULT`` when none matches).

    Quota is checked before the behaviour: a request over the rule's rpm/rpd gets that 429.
    """
    rule = state.rule_for(key, model)
    if rule is None:
        return NO_FAULT
    quota = _quota_fault(state, rule, key, model, method)
    if quota is not None:
        return quota
    return _behavior_fault(state, rule, model)


def _behavior_fault(state: FakeState, rule: Rule, model: str | None) -> Fault:
    """The rule's behaviour as a fault; ``delay_ms`` delays whatever the behaviour does."""
    behavior, delay = rule.behavior, rule.delay_ms
    build_error = _ERROR_BEHAVIORS.get(behavior)
    if build_error is not None:
        return _error(build_error(), delay)
    if behavior is Behavior.RATE_MINUTE:
        limit = rule.rpm or google_errors.DEFAULT_MINUTE_LIMIT
        return _error(google_errors.rate_per_minute(model, rule.retry_delay_s, limit), delay)
    if behavior is Behavior.RATE_DAY:
        until_reset = round(seconds_until_quota_day_ends(state.clock()))
        limit = rule.rpd or google_errors.DEFAULT_DAY_LIMIT
        return _error(google_errors.rate_per_day(model, until_reset, limit), delay)
    if behavior is Behavior.FLAKY and state.flaky_turn_fails(rule):
        return _error(google_errors.overloaded(), delay)
    return Fault(_STREAM_FAULTS.get(behavior, FaultKind.NONE), delay_ms=delay)
