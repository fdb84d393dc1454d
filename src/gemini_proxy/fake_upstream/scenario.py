"""What the fake Gemini server should do: behaviours, matching rules and the scenario file.

A scenario is a frozen ``FakeConfig``: global pacing plus an ordered list of ``Rule``s.
A rule applies to requests whose API key starts with ``key_prefix`` and, when ``model``
is set, whose model equals it; the first matching rule wins and no match means ``ok``.
``load_scenario`` reads the same shape from YAML and names the bad field on error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

DEFAULT_MODELS: tuple[str, ...] = (
    "gemini-2.5-flash",
    "gemini-2.5-pro",
    "gemini-2.5-flash-lite",
    "gemini-2.0-flash",
    "gemini-3-flash-preview",
    "gemini-3-pro-preview",
    "gemini-embedding-001",
    "text-embedding-004",
)


class Behavior(StrEnum):
    """How the fake answers a request a rule matches."""

    OK = "ok"
    INVALID_KEY = "invalid_key"
    EXPIRED_KEY = "expired_key"
    PERMISSION_DENIED = "permission_denied"
    UNAUTHENTICATED = "unauthenticated"
    RATE_MINUTE = "rate_minute"
    RATE_DAY = "rate_day"
    RATE_BARE = "rate_bare"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"
    FLAKY = "flaky"
    SLOW = "slow"
    CUT_STREAM = "cut_stream"
    STREAM_ERROR = "stream_error"
    HANG_UP = "hang_up"


@dataclass(frozen=True)
class Rule:
    """One line of a scenario: which requests it matches and how they are answered.

    ``every`` applies to ``flaky`` (one request in ``every`` fails with 503);
    ``rpm``/``rpd`` emulate real quotas for each key and model the rule matches.
    """

    key_prefix: str = ""
    model: str | None = None
    behavior: Behavior = Behavior.OK
    retry_delay_s: float = 30.0
    delay_ms: float = 0.0
    every: int = 1
    rpm: int | None = None
    rpd: int | None = None

    def matches(self, key: str, model: str | None) -> bool:
        """True when ``key`` starts with the prefix and the model (if the rule names one) is equal."""
        if not key.startswith(self.key_prefix):
            return False
        return self.model is None or self.model == model


@dataclass(frozen=True)
class FakeConfig:
    """Everything the fake server is configured with; replace rules at run time via ``FakeState``."""

    rules: tuple[Rule, ...] = ()
    latency_ms: float = 0
    stream_chunks: int = 3
    chunk_delay_ms: float = 0
    models: tuple[str, ...] = DEFAULT_MODELS
    record_requests: int = 1000


def first_matching_rule(rules: Sequence[Rule], key: str, model: str | None) -> Rule | None:
    """The first rule that matches ``key`` and ``model``, or None (which means ``ok``)."""
    for rule in rules:
        if rule.matches(key, model):
            return rule
    return None


_RULE_FIELDS = ("key_prefix", "model", "behavior", "retry_delay_s", "delay_ms", "every", "rpm", "rpd")
_CONFIG_FIELDS = ("rules", "latency_ms", "stream_chunks", "chunk_delay_ms", "models", "record_requests")


def _number(value: object, where: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: must be >= {minimum:g}, got {value!r}")
    return float(value)


def _integer(value: object, where: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: expected an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: must be >= {minimum}, got {value!r}")
    return value


def _optional_integer(value: object, where: str) -> int | None:
    return None if value is None else _integer(value, where, minimum=1)


def _string(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{where}: expected a string, got {value!r}")
    return value


def _unknown_fields(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for name in data:
        if name not in allowed:
            raise ValueError(f"{where}{name}: unknown field (expected one of {', '.join(allowed)})")


def rule_from_mapping(data: object, where: str = "rule") -> Rule:
    """Build a ``Rule`` from a decoded JSON/YAML mapping; ``where`` prefixes error messages."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")
    _unknown_fields(data, _RULE_FIELDS, f"{where}.")
    behavior_name = _string(data.get("behavior", "ok"), f"{where}.behavior")
    try:
        behavior = Behavior(behavior_name)
    except ValueError:
        expected = ", ".join(b.value for b in Behavior)
        raise ValueError(
            f"{where}.behavior: unknown behavior {behavior_name!r} (expected one of {expected})"
        ) from None
    model = data.get("model")
    return Rule(
        key_prefix=_string(data.get("key_prefix", ""), f"{where}.key_prefix"),
        model=None if model is None else _string(model, f"{where}.model"),
        behavior=behavior,
        retry_delay_s=_number(data.get("retry_delay_s", 30.0), f"{where}.retry_delay_s"),
        delay_ms=_number(data.get("delay_ms", 0.0), f"{where}.delay_ms"),
        every=_integer(data.get("every", 1), f"{where}.every", minimum=1),
        rpm=_optional_integer(data.get("rpm"), f"{where}.rpm"),
        rpd=_optional_integer(data.get("rpd"), f"{where}.rpd"),
    )


def rules_from_list(data: object, where: str = "rules") -> tuple[Rule, ...]:
    """Build rules from a decoded list of mappings (the scenario file and ``POST /_fake/rules``)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ValueError(f"{where}: expected a list of rules, got {data!r}")
    return tuple(rule_from_mapping(item, f"{where}[{index}]") for index, item in enumerate(data))


def config_from_mapping(data: object, where: str = "") -> FakeConfig:
    """Build a ``FakeConfig`` from a decoded mapping; missing fields take the defaults."""
    if data is None:
        return FakeConfig()
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}expected a mapping at the top level, got {data!r}")
    _unknown_fields(data, _CONFIG_FIELDS, where)
    defaults = FakeConfig()
    models = data.get("models", list(defaults.models))
    if not isinstance(models, list) or not models:
        raise ValueError(f"{where}models: expected a non-empty list of model names, got {models!r}")
    return FakeConfig(
        rules=rules_from_list(data.get("rules"), f"{where}rules"),
        latency_ms=_number(data.get("latency_ms", 0), f"{where}latency_ms"),
        stream_chunks=_integer(data.get("stream_chunks", 3), f"{where}stream_chunks", minimum=1),
        chunk_delay_ms=_number(data.get("chunk_delay_ms", 0), f"{where}chunk_delay_ms"),
        models=tuple(_string(m, f"{where}models[{i}]") for i, m in enumerate(models)),
        record_requests=_integer(data.get("record_requests", 1000), f"{where}record_requests", minimum=0),
    )


def load_scenario(path: str | Path) -> FakeConfig:
    """Read a scenario YAML file; a ValueError names the file and the offending field."""
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{source}: cannot read scenario file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{source}: not valid YAML: {exc}") from exc
    return config_from_mapping(data, f"{source}: ")
