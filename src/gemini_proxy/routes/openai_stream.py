"""A committed upstream stream, relayed to an OpenAI client as ``chat.completion.chunk`` events.

Every upstream read goes through ``SSEDecoder`` (bytes -> Gemini events) and
``ChatStreamTranslator`` (events -> OpenAI chunks); the chunks of one read are written
together, as soon as they exist. A complete stream ends with ``data: [DONE]``. A stream
that fails after the start (the connection breaks, the upstream writes an error into
the body, or it ends before every choice finished) ends with an OpenAI error event,
which the OpenAI SDKs raise as ``APIError``, and no ``[DONE]``, so even a client that
ignores the error object sees an incomplete stream rather than a silently short one.

The relay is told how it ended exactly once (``StreamRelay.finish``): ``None`` when
complete, an ``UpstreamError`` when the upstream failed, the exception when the client
went away (which closes the upstream connection and frees the key unpunished).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web

from gemini_proxy.errors import UpstreamError, UpstreamStreamBroken
from gemini_proxy.routes.common import TRACE
from gemini_proxy.services import Services
from gemini_proxy.translate import (
    SSE_DONE,
    ChatStreamTranslator,
    GeminiChatCall,
    SSEDecoder,
    encode_sse,
)
from gemini_proxy.upstream.dispatch import StreamRelay

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # reverse proxies (nginx) must not hold events back
}


class _ChatStreamWriter:
    """Translates upstream bytes and writes the resulting chunks, stopping after an error chunk."""

    __slots__ = ("_decoder", "_response", "_translator")

    def __init__(self, response: web.StreamResponse, translator: ChatStreamTranslator) -> None:
        self._response = response
        self._translator = translator
        self._decoder = SSEDecoder()

    async def upstream_bytes(self, data: bytes) -> None:
        await self._write(
            chunk for event in self._decoder.feed(data) for chunk in self._translator.feed(event)
        )

    async def upstream_end(self) -> None:
        """Events left in the decoder, then the translator's end (an error if cut, usage)."""
        await self._write(chunk for event in self._decoder.finish() for chunk in self._translator.feed(event))
        await self.close()

    async def close(self) -> None:
        """The translator's end chunks, then ``[DONE]``; after an error event, nothing more."""
        failed_already = self._translator.failed
        end = self._translator.finish()
        if not failed_already:
            await self._write(end)
        if not self._translator.failed:
            await self._response.write(SSE_DONE)

    async def _write(self, chunks: Iterable[dict[str, Any]]) -> None:
        encoded: list[bytes] = []
        for chunk in chunks:
            encoded.append(encode_sse(chunk))
            if "error" in chunk:  # nothing after an error event: the client raises on it
                break
        if encoded:
            await self._response.write(b"".join(encoded))


async def relay_chat_stream(
    request: web.Request, services: Services, relay: StreamRelay, call: GeminiChatCall
) -> web.StreamResponse:
    """Answer ``text/event-stream`` from ``relay``; see the module docstring for how it ends."""
    now = services.clock()
    translator = ChatStreamTranslator(
        call, created=int(now), new_id=services.new_id, signatures=services.signatures, now=now
    )
    response = web.StreamResponse(
        status=200, headers={**SSE_HEADERS, "X-Request-ID": request[TRACE].request_id}
    )
    writer = _ChatStreamWriter(response, translator)
    services.streams.opened()
    ended: BaseException | None = None
    try:
        await response.prepare(request)
        try:
            chunk = relay.first_chunk
            while chunk:
                await writer.upstream_bytes(chunk)
                if translator.failed:  # an error inside the stream: read no further
                    break
                chunk = await relay.next_chunk()
            if translator.failed:
                await writer.close()
            else:
                await writer.upstream_end()
        except UpstreamError as exc:
            ended = exc  # the upstream broke mid-stream: the translator reports the cut
            await writer.close()
        if ended is None and translator.failed:
            ended = UpstreamStreamBroken("the upstream stream failed after it started")
        await response.write_eof()
    except ConnectionResetError as exc:  # the client went away; nobody is left to answer
        ended = ended or exc
    except BaseException as exc:  # cancelled (client disconnect, shutdown) or a bug
        ended = ended or exc
        raise
    finally:
        relay.finish(ended)
        services.streams.closed()
    return response
