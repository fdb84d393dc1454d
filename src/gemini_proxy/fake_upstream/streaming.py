"""Writing streams the way Google does, and breaking them the way networks and Google do.

Two wire forms of ``streamGenerateContent`` (protocol.md A.5): with ``alt=sse``, events
``data: <compact json>\\r\\n\\r\\n`` and no terminator; without it, one JSON array written
progressively, ``[{...}\\r\\n,{...}\\r\\n]``. Pacing comes from the scenario unless the
request overrides it with ``x-fake-chunks`` / ``x-fake-chunk-delay-ms``. Faults: a cut
stream (first chunk, then the connection closes), an error object written into the body
after the first chunk, and a hang-up before any answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from gemini_proxy.fake_upstream.faults import FaultKind
from gemini_proxy.fake_upstream.google_errors import GoogleError, internal_error, invalid_argument
from gemini_proxy.fake_upstream.scenario import FakeConfig

CHUNKS_HEADER = "x-fake-chunks"
CHUNK_DELAY_HEADER = "x-fake-chunk-delay-ms"
MAX_CHUNKS = 10_000
SSE_CONTENT_TYPE = "text/event-stream"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Pacing:
    """How many chunks a streamed text is split into and the pause between chunks."""

    chunks: int
    chunk_delay_s: float


def pacing_for(headers: Mapping[str, str], config: FakeConfig) -> Pacing | GoogleError:
    """The scenario's pacing, overridden per request by the ``x-fake-*`` headers."""
    chunks, delay_ms = config.stream_chunks, config.chunk_delay_ms
    raw_chunks = headers.get(CHUNKS_HEADER)
    if raw_chunks is not None:
        try:
            chunks = int(raw_chunks)
        except ValueError:
            chunks = 0
        if not 1 <= chunks <= MAX_CHUNKS:
            message = f"{CHUNKS_HEADER} must be an integer from 1 to {MAX_CHUNKS}, got {raw_chunks!r}"
            return invalid_argument(message)
    raw_delay = headers.get(CHUNK_DELAY_HEADER)
    if raw_delay is not None:
        try:
            delay_ms = float(raw_delay)
        except ValueError:
            delay_ms = -1.0
        if not delay_ms >= 0:
            return invalid_argument(f"{CHUNK_DELAY_HEADER} must be a number >= 0, got {raw_delay!r}")
    return Pacing(chunks, delay_ms / 1000)


def drop_connection(request: web.Request) -> None:
    """Close the client's connection without (finishing) an answer."""
    if request.transport is not None:
        request.transport.close()


async def pause(seconds: float) -> None:
    """Sleep when there is something to wait for (no event-loop round trip for zero)."""
    if seconds > 0:
        await asyncio.sleep(seconds)


async def open_stream(request: web.Request, content_type: str) -> web.StreamResponse:
    """Send 200 headers for a streamed body."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    return response


def _without_finish_reason(chunk: dict[str, Any]) -> dict[str, Any]:
    if "candidates" not in chunk:
        return chunk
    candidates = [{k: v for k, v in c.items() if k != "finishReason"} for c in chunk["candidates"]]
    return {**chunk, "candidates": candidates}


def _frame(chunk: Mapping[str, Any], sse: bool, first: bool) -> bytes:
    data = orjson.dumps(chunk)
    if sse:
        return b"data: " + data + b"\r\n\r\n"
    return (b"[" if first else b",") + data + b"\r\n"


def _error_frame(error: GoogleError, sse: bool) -> bytes:
    if sse:
        # Written raw (not as a data: event) and over several lines, as Google's frontend does.
        return orjson.dumps(error.body, option=orjson.OPT_INDENT_2) + b"\n"
    return b"," + orjson.dumps(error.body) + b"\r\n]"


async def send_generate_stream(
    request: web.Request, chunks: list[dict[str, Any]], *, sse: bool, pacing: Pacing, fault: FaultKind
) -> web.StreamResponse:
    """Stream ``chunks`` in the SSE or JSON-array form, breaking the stream as ``fault`` says.

    The chunks are rendered to bytes before the first write and the dicts let go (pass the
    list without keeping it): a thousand slow streams then hold bytes, which the garbage
    collector does not scan, instead of a million nested containers that made its full
    collections pause this server for hundreds of milliseconds.
    """
    if fault in (FaultKind.CUT_STREAM, FaultKind.STREAM_ERROR):
        frames = [_frame(_without_finish_reason(chunks[0]), sse, first=True)]
    else:
        frames = [_frame(chunk, sse, first=position == 0) for position, chunk in enumerate(chunks)]
        if not sse:
            frames[-1] += b"]"
    del chunks
    response = await open_stream(request, SSE_CONTENT_TYPE if sse else JSON_CONTENT_TYPE)
    for position, frame in enumerate(frames):
        if position:
            await pause(pacing.chunk_delay_s)
        await response.write(frame)
    if fault in (FaultKind.CUT_STREAM, FaultKind.STREAM_ERROR):
        await pause(pacing.chunk_delay_s)
        if fault is FaultKind.CUT_STREAM:
            drop_connection(request)
            return response
        await response.write(_error_frame(internal_error(), sse))
    await response.write_eof()
    return response


async def send_sse_events(request: web.Request, events: list[bytes], delay_s: float) -> web.StreamResponse:
    """Stream ready-made SSE event payloads (``data: ...`` frames), pausing between them."""
    response = await open_stream(request, SSE_CONTENT_TYPE)
    for position, event in enumerate(events):
        if position:
            await pause(delay_s)
        await response.write(event)
    await response.write_eof()
    return response
