"""The one retry loop: pick a key, call upstream, classify, report to the pool, maybe retry.

A request is tried on distinct keys within its deadline, only for retryable outcomes
(``keys.classify``) and only before anything went to the client: a non-streamed call
commits when its body is read, a stream at its first upstream bytes. Transient failures
(5xx, timeouts, connection errors) are slow and count toward ``max_attempts``; a 429 or a
rejected key answers at once and only teaches the pool about that key, so the request
moves on to the next key, up to ``max_failover_keys`` keys in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from gemini_proxy.errors import NoKeyAvailable, ProxyError, UpstreamError, UpstreamTimeout
from gemini_proxy.keys.classify import classify_upstream_response
from gemini_proxy.keys.outcome import SUCCESS, Outcome, OutcomeKind
from gemini_proxy.keys.pool import KeyPool, Lease
from gemini_proxy.upstream.client import UpstreamClient, UpstreamRequest, UpstreamResponse
from gemini_proxy.upstream.trace import CallTrace
from gemini_proxy.upstream.usage import TokenUsage, usage_from_body, usage_from_stream_tail

_TAIL_BYTES = 64 * 1024


class DispatchObserver(Protocol):
    """Metrics hooks of the dispatch loop."""

    def upstream_call(
        self,
        key_id: str,
        model: str,
        outcome: Outcome,
        duration_s: float,
        usage: TokenUsage | None,
        at: float,
    ) -> None:
        """One attempt finished at ``at`` (the dispatcher's clock); ``usage`` is what the
        upstream reported for a successful call, if anything."""

    def retry(self, reason: str) -> None: ...
    def refused(self, model: str, status: int) -> None: ...


class NullObserver:
    """Observes nothing (metrics disabled, unit tests)."""

    def upstream_call(
        self,
        key_id: str,
        model: str,
        outcome: Outcome,
        duration_s: float,
        usage: TokenUsage | None,
        at: float,
    ) -> None:
        return None

    def retry(self, reason: str) -> None:
        return None

    def refused(self, model: str, status: int) -> None:
        return None


def _transport_reason(error: UpstreamError) -> str:
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    return "stream_cut" if error.code == "upstream_stream_broken" else "connect_error"


@dataclass(slots=True)
class UpstreamReply:
    """A complete upstream answer: a success, or an error the client gets as it is."""

    status: int
    content_type: str
    body: bytes
    outcome: Outcome


class StreamRelay:
    """An upstream stream committed to the client: iterate it, then call ``finish``."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        response: UpstreamResponse,
        lease: Lease,
        model: str,
        first_chunk: bytes,
        trace: CallTrace,
        started: float,
    ) -> None:
        self._dispatcher = dispatcher
        self._response = response
        self._lease = lease
        self._model = model
        self._first = first_chunk
        self._trace = trace
        self._started = started
        self._previous = b""
        self._last = first_chunk
        self._finished = False
        self.status = response.status
        self.content_type = response.content_type

    @property
    def first_chunk(self) -> bytes:
        return self._first

    async def next_chunk(self) -> bytes:
        """The next upstream bytes (b"" at the end); raises ``UpstreamError`` if the stream breaks."""
        chunk = await self._response.next_chunk()
        if chunk:
            self._previous, self._last = self._last, chunk
        return chunk

    def finish(self, error: BaseException | None = None) -> None:
        """Report the stream's end to the pool: completed, broken upstream, or abandoned."""
        if self._finished:
            return
        self._finished = True
        if error is None:
            usage = usage_from_stream_tail(self._previous[-_TAIL_BYTES:] + self._last)
            self._response.release()
            self._dispatcher.settle(self._lease, self._model, SUCCESS, self._started, usage, self._trace)
        elif isinstance(error, UpstreamError):
            self._response.close()
            outcome = classify_upstream_response(None, {}, None, _transport_reason(error))
            self._dispatcher.settle(self._lease, self._model, outcome, self._started, None, self._trace)
        else:  # the client went away or the task was cancelled: no fault of the key
            self._response.close()
            self._dispatcher.abandon(self._lease)


class Dispatcher:
    """Runs upstream calls through the key pool with failover."""

    def __init__(
        self,
        client: UpstreamClient,
        pool: KeyPool,
        *,
        max_attempts: int,
        max_failover_keys: int,
        deadline_s: float,
        wait_for_key_s: float,
        clock: Callable[[], float],
        observer: DispatchObserver | None = None,
    ) -> None:
        self._client = client
        self._pool = pool
        self._max_attempts = max_attempts
        self._max_keys = max(max_attempts, max_failover_keys)
        self._deadline_s = deadline_s
        self._wait_for_key_s = wait_for_key_s
        self._clock = clock
        self._observer: DispatchObserver = observer or NullObserver()

    def settle(
        self,
        lease: Lease,
        model: str,
        outcome: Outcome,
        started: float,
        usage: TokenUsage | None,
        trace: CallTrace,
    ) -> float:
        """Report one finished attempt to the pool and the observer; returns the time it ended."""
        now = self._clock()
        duration = now - started if now > started else 0.0
        self._pool.release(lease, outcome, latency_s=duration, tokens=usage.prompt if usage else 0, now=now)
        self._observer.upstream_call(lease.key_id, model, outcome, duration, usage, now)
        if usage is not None:
            trace.usage = usage
        trace.outcome = outcome.reason
        return now

    def abandon(self, lease: Lease) -> None:
        self._pool.cancel(lease)

    async def _wait_for_key(self, model: str, busy: NoKeyAvailable, deadline: float) -> Lease:
        """A lease once some key recovers, within ``wait_for_key_s`` and the deadline;
        raises ``NoKeyAvailable`` otherwise (at once when every key is disabled)."""
        if busy.all_disabled:
            raise busy
        wait_until = min(deadline, self._clock() + self._wait_for_key_s)
        while True:
            remaining = wait_until - self._clock()
            if remaining <= 0:
                raise busy
            delay = busy.retry_after_s if busy.retry_after_s is not None else remaining
            await asyncio.sleep(max(0.01, min(delay, remaining, 1.0)))
            # After waiting, a key that has recovered may serve, even one tried before.
            try:
                return self._pool.acquire(model)
            except NoKeyAvailable as exc:
                if exc.all_disabled:
                    raise
                busy = exc

    async def call(
        self, request: UpstreamRequest, model: str, trace: CallTrace
    ) -> UpstreamReply | StreamRelay:
        """Call upstream with failover. Returns a full reply, or a stream committed to its first bytes.

        Raises ``NoKeyAvailable`` when no key can serve, or the last transport error when
        every attempt failed without an upstream answer.
        """
        now = self._clock()  # read once per attempt: when it starts (or the last one ended)
        deadline = now + self._deadline_s
        tried: list[str] = []
        last: UpstreamReply | None = None
        last_error: ProxyError | None = None
        last_outcome: Outcome | None = None
        transient_failures = 0
        for attempt in range(self._max_keys):
            try:
                try:
                    lease = self._pool.acquire(model, exclude=tried, now=now)
                except NoKeyAvailable as busy:
                    lease = await self._wait_for_key(model, busy, deadline)
                    now = self._clock()
            except NoKeyAvailable as exc:
                if last_outcome is None:
                    self._observer.refused(model, exc.status)
                    raise
                break  # every key was tried: answer from what the attempts taught the pool
            if attempt:
                self._observer.retry(last_outcome.reason if last_outcome else "unknown")
            tried.append(lease.key_id)
            trace.keys_tried.append(lease.key_id)
            started = now
            response: UpstreamResponse | None = None
            try:
                response = await self._client.send(request, lease.secret)
                trace.upstream_status = response.status
                if 200 <= response.status < 300:
                    if request.stream:
                        first = await response.next_chunk()
                        if first:
                            return StreamRelay(self, response, lease, model, first, trace, started)
                        response.close()
                        outcome = classify_upstream_response(None, {}, None, "stream_cut")
                        last = None
                    else:
                        body = await response.read()
                        usage = usage_from_body(body)
                        self.settle(lease, model, SUCCESS, started, usage, trace)
                        return UpstreamReply(response.status, response.content_type, body, SUCCESS)
                else:
                    body = await response.read()
                    outcome = classify_upstream_response(response.status, response.headers, body)
                    last = UpstreamReply(response.status, response.content_type, body, outcome)
            except UpstreamError as exc:
                if response is not None:
                    response.close()
                outcome = classify_upstream_response(None, {}, None, _transport_reason(exc))
                last, last_error = None, exc
            except BaseException:
                if response is not None:
                    response.close()
                self._pool.cancel(lease)
                raise
            now = self.settle(lease, model, outcome, started, None, trace)
            last_outcome = outcome
            if not outcome.retryable:
                break
            if outcome.kind is OutcomeKind.TRANSIENT:
                transient_failures += 1
                if transient_failures >= self._max_attempts:
                    break
            if now >= deadline:
                break
        return self._exhausted(model, last, last_error, last_outcome)

    def _exhausted(
        self,
        model: str,
        last: UpstreamReply | None,
        last_error: ProxyError | None,
        last_outcome: Outcome | None,
    ) -> UpstreamReply:
        if last is not None and last.outcome.kind in (OutcomeKind.CLIENT_ERROR, OutcomeKind.TRANSIENT):
            return last
        if last_outcome is not None and last_outcome.kind in (
            OutcomeKind.RATE_LIMITED,
            OutcomeKind.KEY_REJECTED,
        ):
            recovery = self._pool.earliest_recovery(model)
            if recovery is None:
                error = NoKeyAvailable(model, retry_after_s=None, all_disabled=True)
            elif last_outcome.kind is OutcomeKind.RATE_LIMITED:
                wait = max(1.0, recovery - self._clock())
                error = NoKeyAvailable(model, retry_after_s=wait, all_disabled=False)
            else:
                error = NoKeyAvailable(model, retry_after_s=None, all_disabled=True)
                error.message = "the upstream rejected every key tried for this request"
            self._observer.refused(model, error.status)
            raise error
        if last_error is not None:
            raise last_error
        raise UpstreamError("the upstream gave no usable answer")


def forwarded_headers(headers: Mapping[str, str], names: Collection[str]) -> dict[str, str]:
    """The subset of a client's request headers that goes upstream."""
    forwarded = {}
    for name in names:
        value = headers.get(name)
        if value is not None:
            forwarded[name] = value
    return forwarded
