"""Structured logging: structlog, JSON lines (or console), secrets redacted in the chain.

Each app builds its own logger (no global configuration), so two apps in one process
keep their own secrets and outputs. The redaction processor masks anything shaped like
a Gemini key and every configured key and token value, so no call site has to remember.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import sys
import time
from collections.abc import Callable, Iterable
from typing import TextIO

import orjson
import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor, WrappedLogger

_GEMINI_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{30,}")
# Secrets are looked up token by token: split text on anything that cannot be part of a
# key or token, then check each piece against a set. Cost grows with the text, not with
# the number of secrets.
_TOKEN = re.compile(r"[A-Za-z0-9_\-.~]{6,}")
_PREFIX_LEN = 8
_FEW_PREFIXES = 4
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def mask_secret(secret: str) -> str:
    """The display form of a secret: ``AIza...wxyz``; short values fully starred."""
    if len(secret) < 12:
        return "*" * len(secret)
    return f"{secret[:4]}...{secret[-4:]}"


def _mask_match(match: re.Match[str]) -> str:
    return mask_secret(match.group(0))


class Redactor:
    """Replaces known secrets and Gemini-key-shaped strings inside any text.

    Secrets made only of key/token characters are found token by token (one C-level scan
    and a set lookup, whatever the number of secrets). Any other secret is searched for as
    it is and as JSON escapes it, and masked as ``****`` (its own characters could break
    the JSON it sits in).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._exact: set[str] = set()
        self._prefixes: set[str] = set()
        self._few_prefixes: tuple[str, ...] = ()
        self._prefix_search: Callable[[str], object] | None = None
        self._irregular: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if not secret:
                continue
            if _GEMINI_KEY.fullmatch(secret):
                continue  # every Gemini-shaped key is masked by the pattern below
            if _TOKEN.fullmatch(secret):
                self._exact.add(secret)
                self._prefixes.add(secret[:_PREFIX_LEN])
            else:
                escaped = orjson.dumps(secret).decode()[1:-1]
                self._irregular.extend({secret, escaped})
        # The first filter: a few substring searches, or for many secrets one regex search
        # (an alternation costs about as much as a few ``in`` tests, whatever its size).
        if len(self._prefixes) > _FEW_PREFIXES:
            pattern = "|".join(re.escape(prefix) for prefix in sorted(self._prefixes))
            self._few_prefixes, self._prefix_search = (), re.compile(pattern).search
        else:
            self._few_prefixes, self._prefix_search = tuple(self._prefixes), None

    def redact(self, text: str) -> str:
        if self._exact and self._may_hold_exact(text):
            text = _TOKEN.sub(self._mask_known, text)
        for secret in self._irregular:
            if secret in text:
                text = text.replace(secret, "****")
        if "AIza" in text:
            text = _GEMINI_KEY.sub(_mask_match, text)
        return text

    def _may_hold_exact(self, text: str) -> bool:
        # Cheap filter first: the secrets' first characters rule out most text; only then
        # one tokenizing scan.
        search = self._prefix_search
        if search is not None:
            if not search(text):
                return False
        else:
            for prefix in self._few_prefixes:
                if prefix in text:
                    break
            else:
                return False
        return not self._exact.isdisjoint(_TOKEN.findall(text))

    def _mask_known(self, match: re.Match[str]) -> str:
        piece = match.group(0)
        return mask_secret(piece) if piece in self._exact else piece


class _RedactingRenderer:
    """Renders the event, then redacts the rendered line: every field, nested values and
    exception text included, in one pass."""

    __slots__ = ("_redactor", "_render")

    def __init__(self, render: Callable[[WrappedLogger, str, EventDict], str], redactor: Redactor) -> None:
        self._render = render
        self._redactor = redactor

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> str:
        return self._redactor.redact(self._render(logger, method, event))


# The id of the request being served, set by the access middleware for the request's task
# (and the tasks it starts). One ContextVar read per event: cheaper than structlog's
# merge_contextvars, which copies the whole context.
CURRENT_REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def _add_request_id(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    request_id = CURRENT_REQUEST_ID.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


class _Timestamper:
    """Adds ``level`` and an ISO-8601 UTC ``timestamp`` with milliseconds (the second-level
    prefix is cached): one processor instead of two on every event."""

    __slots__ = ("_last", "_millisecond", "_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._millisecond = -1
        self._last = ""

    def __call__(self, logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
        event["level"] = method
        event["timestamp"] = self.now()
        return event

    def now(self) -> str:
        """The current time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
        millisecond = int(time.time() * 1000)
        if millisecond == self._millisecond:  # a busy proxy logs several lines a millisecond
            return self._last
        second = millisecond // 1000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._millisecond = millisecond
        self._last = f"{self._prefix}.{millisecond - second * 1000:03d}Z"
        return self._last


class LineWriter:
    """Where rendered lines go: written together once per event loop iteration.

    Lines logged while a loop runs are kept and written (and flushed) by one callback at
    the loop's next turn, so a busy proxy makes one write for many requests instead of one
    each, and a line is out microseconds after it was logged. Warnings and errors, and
    anything logged with no loop running, are written at once. ``flush()`` at shutdown.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending: list[str] = []
        self._scheduled = False

    def msg(self, message: str) -> None:
        self._pending.append(message)
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def urgent(self, message: str) -> None:
        self._pending.append(message)
        self.flush()

    debug = info = msg
    warning = error = critical = exception = fatal = urgent

    def flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        lines = "\n".join(self._pending) + "\n"
        self._pending.clear()
        self._stream.write(lines)
        self._stream.flush()


def _render_json(logger: WrappedLogger, method: str, event: EventDict) -> str:
    return orjson.dumps(event, default=str).decode()


class AccessLog:
    """The access event, once per request: the same JSON line the logger would write.

    Every request logs one, so in JSON format the line is rendered here directly (request
    id, level and time added, then redacted like every other line) instead of going
    through the logger's processor chain, which costs several times more. Console format
    goes through the logger; a level above ``info`` drops the event, as the logger would.
    """

    __slots__ = ("_direct", "_log", "_redactor", "_stamp", "_writer", "enabled")

    def __init__(
        self,
        log: FilteringBoundLogger,
        *,
        writer: LineWriter,
        redactor: Redactor,
        level: str = "info",
        fmt: str = "json",
        enabled: bool = True,
    ) -> None:
        self._log = log
        self._writer = writer
        self._redactor = redactor
        self._stamp = _Timestamper()
        self._direct = fmt == "json"
        self.enabled = enabled and _LEVELS[level] <= _LEVELS["info"]

    def write(self, request_id: str, fields: dict[str, object]) -> None:
        """Log ``fields`` as the ``access`` event of request ``request_id``."""
        if not self.enabled:
            return
        if not self._direct:
            self._log.info("access", **fields)
            return
        fields["event"] = "access"
        fields["request_id"] = request_id
        fields["level"] = "info"
        fields["timestamp"] = self._stamp.now()
        self._writer.msg(self._redactor.redact(orjson.dumps(fields, default=str).decode()))


def build_logger(
    *,
    level: str = "info",
    fmt: str = "json",
    redactor: Redactor,
    stream: TextIO | None = None,
    writer: LineWriter | None = None,
) -> FilteringBoundLogger:
    """A logger writing JSON lines (or console lines), redacted as the last step, through
    ``writer`` (default: a new ``LineWriter`` on ``stream``, else stdout)."""
    processors: list[Processor] = [
        _add_request_id,
        _Timestamper(),
        structlog.processors.format_exc_info,
        _RedactingRenderer(
            _render_json if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False), redactor
        ),
    ]
    logger = structlog.wrap_logger(
        writer or LineWriter(stream or sys.stdout),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        cache_logger_on_first_use=False,
    )
    # bind() resolves the lazy proxy once, so each event skips building a logger.
    return logger.bind()  # type: ignore[no-any-return]  # wrap_logger is typed as returning Any
