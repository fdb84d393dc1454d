"""Structured logging: structlog, JSON lines (or console), secrets redacted in the chain.

Each app builds its own logger (no global configuration), so two apps in one process
keep their own secrets and outputs. The redaction processor masks anything shaped like
a Gemini key and every configured key and token value, so no call site has to remember.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

_GEMINI_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{30,}")
# Secrets are looked up token by token: split text on anything that cannot be part of a
# key or token, then check each piece against a set. Cost grows with the text, not with
# the number of secrets.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~]{6,}")
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def mask_secret(secret: str) -> str:
    """The display form of a secret: ``AIza...wxyz``; short values fully starred."""
    if len(secret) < 12:
        return "*" * len(secret)
    return f"{secret[:4]}...{secret[-4:]}"


def _mask_match(match: re.Match[str]) -> str:
    return mask_secret(match.group(0))


class Redactor:
    """Replaces known secrets and Gemini-key-shaped strings inside any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._exact: set[str] = set()
        self._irregular: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if not secret:
                continue
            if _TOKEN.fullmatch(secret):
                self._exact.add(secret)
            else:
                self._irregular.append(secret)

    def redact(self, text: str) -> str:
        # Fast path first: one C-level scan to see whether any piece is a known secret.
        if self._exact and not self._exact.isdisjoint(_TOKEN.findall(text)):
            text = _TOKEN.sub(self._mask_known, text)
        for secret in self._irregular:
            if secret in text:
                text = text.replace(secret, mask_secret(secret))
        if "AIza" in text:
            text = _GEMINI_KEY.sub(_mask_match, text)
        return text

    def _mask_known(self, match: re.Match[str]) -> str:
        piece = match.group(0)
        return mask_secret(piece) if piece in self._exact else piece

    def redact_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {k: self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        if isinstance(value, BaseException):
            return self.redact(f"{type(value).__name__}: {value}")
        return value

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        for name, value in event.items():
            if isinstance(value, str):
                event[name] = self.redact(value)
            elif value is not None and not isinstance(value, int | float):
                event[name] = self.redact_value(value)
        return event


class _Timestamper:
    """ISO-8601 UTC timestamps with milliseconds; the second-level prefix is cached."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event["timestamp"] = f"{self._prefix}.{int((now - second) * 1000):03d}Z"
        return event


def _render_json(logger: WrappedLogger, method: str, event: EventDict) -> str:
    return orjson.dumps(event, default=str).decode()


def build_logger(
    *,
    level: str = "info",
    fmt: str = "json",
    redactor: Redactor,
    stream: TextIO | None = None,
) -> FilteringBoundLogger:
    """A logger writing JSON lines (or console lines) with redaction last before rendering."""
    processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _Timestamper(),
        structlog.processors.format_exc_info,
        redactor,
        _render_json if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False),
    ]
    return structlog.wrap_logger(  # type: ignore[no-any-return]  # typed as returning Any
        structlog.WriteLogger(stream or sys.stdout),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=False,
    )
