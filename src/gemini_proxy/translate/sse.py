"""An incremental parser for Gemini's server-sent events (protocol.md A.5, E.2).

Bytes go in as they arrive; whole JSON objects come out. Tolerant of what the
upstream may do: LF, CRLF or CR line ends (a CRLF may be split across two reads),
events split at any byte, several ``data:`` lines in one event, comments and other
SSE fields, and raw JSON written into the body without ``data:`` (how an error can
appear after the 200, possibly over several lines), which is collected until it
parses. Data that cannot be parsed becomes a synthetic error event, so the stream
translator reports it instead of the route crashing.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_RAW_JSON_BYTES = 1_000_000
_FIELD_PREFIXES = (b"event:", b"id:", b"retry:")


def malformed_event(detail: str) -> dict[str, Any]:
    """The error event that stands in for data the decoder could not parse."""
    return {
        "error": {
            "code": 502,
            "message": f"The upstream sent a malformed stream: {detail}",
            "status": "UNAVAILABLE",
        }
    }


class SSEDecoder:
    """Feed upstream bytes, get parsed event objects."""

    __slots__ = ("_buffer", "_data", "_depth", "_raw", "_raw_size", "_skip_lf")

    def __init__(self) -> None:
        self._buffer: list[bytes] = []  # the incomplete last line, in pieces
        self._data: list[bytes] = []  # data lines of the current event
        self._raw: list[bytes] = []  # lines of a raw JSON object not yet complete
        self._skip_lf = False  # the previous read ended in CR; a leading LF belongs to it
        self._depth = 0  # bracket depth of the raw JSON being collected
        self._raw_size = 0

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        """The events completed by ``chunk``."""
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._skip_lf = False
        if not chunk:
            return []
        if b"\n" not in chunk and b"\r" not in chunk:  # the middle of a long line: just keep it
            self._buffer.append(chunk)
            return []
        data = b"".join((*self._buffer, chunk)) if self._buffer else chunk
        lines = data.splitlines(keepends=True)
        last = lines[-1]
        if last.endswith((b"\n", b"\r")):
            self._buffer = []
            self._skip_lf = last.endswith(b"\r")
        else:
            self._buffer = [lines.pop()]
        events: list[dict[str, Any]] = []
        for line in lines:
            self._line(line.rstrip(b"\r\n"), events)
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Events still pending at EOF (a last event without its blank line)."""
        events: list[dict[str, Any]] = []
        if self._buffer:
            self._line(b"".join(self._buffer), events)
            self._buffer = []
        self._dispatch(events)
        if self._raw:
            events.append(malformed_event("an incomplete JSON object at the end of the body"))
            self._raw = []
        return events

    def _line(self, line: bytes, events: list[dict[str, Any]]) -> None:
        if self._raw:
            self._raw_line(line, events)
        elif not line:
            self._dispatch(events)
        elif line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b":") or line.startswith(_FIELD_PREFIXES):
            return
        else:
            self._dispatch(events)
            self._raw_line(line, events)

    def _dispatch(self, events: list[dict[str, Any]]) -> None:
        if not self._data:
            return
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        if payload.strip() == b"[DONE]":
            return
        _append_parsed(payload, events)

    def _raw_line(self, line: bytes, events: list[dict[str, Any]]) -> None:
        """Collect a raw JSON object line by line; parse once its brackets balance."""
        if not self._raw:
            if not line.lstrip().startswith((b"{", b"[")):
                return  # a stray line that starts no JSON value: ignored
            self._depth = 0
            self._raw_size = 0
        self._raw.append(line)
        self._raw_size += len(line)
        self._depth += line.count(b"{") + line.count(b"[") - line.count(b"}") - line.count(b"]")
        if self._depth > 0:
            if self._raw_size > MAX_RAW_JSON_BYTES:
                self._raw = []
                events.append(malformed_event("a JSON object in the body that never ends"))
            return
        payload = b"\n".join(self._raw)
        self._raw = []
        try:
            value = orjson.loads(payload)
        except orjson.JSONDecodeError:
            events.append(malformed_event("a line in the body that is not JSON"))
            return
        _extend_with(value, events)


def _append_parsed(payload: bytes, events: list[dict[str, Any]]) -> None:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        events.append(malformed_event("an event whose data is not JSON"))
        return
    _extend_with(value, events)


def _extend_with(value: Any, events: list[dict[str, Any]]) -> None:
    if isinstance(value, dict):
        events.append(value)
    elif isinstance(value, list):  # the JSON-array form wraps objects (and errors) in a list
        events.extend(item for item in value if isinstance(item, dict))
    else:
        events.append(malformed_event("an event that is not a JSON object"))
