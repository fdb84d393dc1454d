"""``SharedState``: this instance's link to the state it shares with other instances (Redis).

The pool stays the local mirror that every pick reads; nothing on the request path
waits for Redis. The pool's key events and usage go to an ``Outbox`` (dict updates only);
one background task runs *sessions*, each:

1. subscribe to the channel (so no change published from now on is missed);
2. reconcile: if Redis lost its data (a new epoch), seed it with this instance's state;
   push what is pending (changes made while Redis was away); read the whole shared
   state and merge it into the pool;
3. then, until the connection fails: write and publish pending changes as they come
   (``Publisher``), and apply the changes other instances publish (``Mirror``).

When a session fails the link is *down*: one ``shared_state_down`` error event is logged,
``up`` turns false (readiness reports ``degraded``, the ``shared_state_up`` gauge drops),
the pool keeps serving from its local state and its changes pile up in the outbox; the
next session starts after a jittered backoff (``BACKOFF_MIN_S`` doubling to
``BACKOFF_MAX_S``). The first session that succeeds again logs ``shared_state_restored``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from structlog.typing import FilteringBoundLogger

from gemini_proxy.keys.events import KeyEvent
from gemini_proxy.keys.pacific import PacificDays
from gemini_proxy.keys.pool import KeyPool
from gemini_proxy.shared.cipher import SecretCipher, UnreadableSecret
from gemini_proxy.shared.codec import decode_added
from gemini_proxy.shared.connection import REDIS_ERRORS, connect
from gemini_proxy.shared.layout import RedisLayout
from gemini_proxy.shared.messages import MessageError, decode_message
from gemini_proxy.shared.mirror import Mirror
from gemini_proxy.shared.outbox import Outbox
from gemini_proxy.shared.publisher import Publisher
from gemini_proxy.shared.reader import read_day_usage, read_state
from gemini_proxy.shared.stamps import Stamps

BACKOFF_MIN_S: Final = 0.05
BACKOFF_MAX_S: Final = 2.0
START_WAIT_S: Final = 3.0  # how long the start waits for the first session
CLOSE_WAIT_S: Final = 2.0  # how long the shutdown waits to write what is pending
READ_TIMEOUT_S: Final = 1.0


@dataclass(frozen=True, slots=True)
class SharedStatus:
    """The link as readiness and the admin API show it."""

    up: bool
    since: float  # when ``up`` last changed
    pending: int  # changes not written to Redis yet

    def to_json(self) -> dict[str, object]:
        return {"backend": "redis", "up": self.up, "since": self.since, "pending_changes": self.pending}


def instance_name() -> str:
    """This instance's name on the channel: host, process id and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class SharedState:
    """Shares one pool's key state through Redis (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        cipher: SecretCipher,
        clock: Callable[[], float],
        log: FilteringBoundLogger,
        origin: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._url = url
        self._layout = RedisLayout(prefix)
        self._cipher = cipher
        self._clock = clock
        self._log = log
        self._origin = origin or instance_name()
        self._rng = rng or random.Random()
        self._stamps = Stamps()
        self._outbox = Outbox(clock, self._stamps)
        self._days = PacificDays()
        self._client: Redis | None = None
        self._publisher: Publisher | None = None
        self._mirror: Mirror | None = None
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._first_session = asyncio.Event()
        self._up = False
        self._down_reported = False
        self._since = clock()
        self._epoch: bytes | str | None = None
        self._watchers: list[Callable[[bool], None]] = []
        self._reported: set[tuple[str, str]] = set()
        # Every message starts with its origin (after the sequence number, for usage).
        self._own_mark = orjson.dumps({"o": self._origin})[1:-1]
        self._session_was_up = False

    # -- wiring -----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        """This instance's name on the channel."""
        return self._origin

    def key_event(self, event: KeyEvent) -> None:
        """The pool's ``on_event`` listener: note a local change to share."""
        self._outbox.key_event(event)

    def attach(self, pool: KeyPool, *, on_key_added: Callable[[str], None]) -> None:
        """Share ``pool``'s state; ``on_key_added(raw_key)`` hears of keys other instances add."""
        pool.set_usage_listener(self._outbox.usage)
        self._publisher = Publisher(
            pool, self._layout, self._cipher, self._stamps, origin=self._origin, clock=self._clock
        )
        self._mirror = Mirror(pool, self._stamps, self._outbox, clock=self._clock, on_key_added=on_key_added)

    def watch(self, callback: Callable[[bool], None]) -> None:
        """Call ``callback(up)`` whenever the link goes up or down."""
        self._watchers.append(callback)

    @property
    def up(self) -> bool:
        """Whether the link to Redis works now."""
        return self._up

    def status(self) -> SharedStatus:
        """Up or down, since when, and how many changes wait to be written."""
        return SharedStatus(self._up, self._since, len(self._outbox))

    # -- lifecycle --------------------------------------------------------------------

    async def start(self, wait_s: float = START_WAIT_S) -> None:
        """Start the link; wait (at most ``wait_s``) for the first session to connect or fail."""
        if self._publisher is None:
            raise RuntimeError("attach a pool before starting")
        if not self._cipher.encrypts:
            self._log.warning(
                "shared_state_keys_unencrypted",
                detail="keys added through the admin API are stored in Redis unencrypted; set state.secret",
            )
        self._client = connect(self._url, retries=0, single_connection=True)
        self._task = asyncio.create_task(self._run(), name="shared-state")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_session.wait(), wait_s)

    async def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Stop the link after writing what is pending (if Redis is there, within ``wait_s``)."""
        task, client = self._task, self._client
        if task is None or client is None:
            return
        holding = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush_lock.acquire(), wait_s)  # let a push in flight end
            holding = True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if holding:
            self._flush_lock.release()
        if self._up and len(self._outbox):
            try:
                await asyncio.wait_for(self._flush(client), wait_s)
            except (*REDIS_ERRORS, TimeoutError) as exc:
                self._log.error("shared_state_unflushed", pending=len(self._outbox), error=str(exc))
        elif len(self._outbox):
            self._log.error("shared_state_unflushed", pending=len(self._outbox), error="redis is down")
        with contextlib.suppress(*REDIS_ERRORS):
            await client.aclose()

    # -- sessions ---------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._client is not None
        delay = BACKOFF_MIN_S
        while True:
            self._session_was_up = False
            try:
                await self._session(self._client)
            except REDIS_ERRORS as exc:
                self._went_down(exc)
            except Exception as exc:  # a bug here must not end sharing for good
                self._log.exception("shared_state_error", error=repr(exc))
                self._went_down(exc)
            finally:
                self._first_session.set()
            if self._session_was_up:
                delay = BACKOFF_MIN_S  # it worked until now: try again soon
            with contextlib.suppress(*REDIS_ERRORS):
                await self._client.connection_pool.disconnect()
            await asyncio.sleep(delay * self._rng.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _session(self, client: Redis) -> None:
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self._layout.channel)
            await self._reconcile(client)
            self._came_up()
            self._first_session.set()
            reader = asyncio.create_task(self._read(client, pubsub), name="shared-state-reader")
            writer = asyncio.create_task(self._write(client), name="shared-state-writer")
            try:
                done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                reader.cancel()
                writer.cancel()
                await asyncio.gather(reader, writer, return_exceptions=True)
            for task in done:
                task.result()
        finally:
            with contextlib.suppress(*REDIS_ERRORS):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def _reconcile(self, client: Redis) -> None:
        assert self._publisher is not None and self._mirror is not None
        layout = self._layout
        epoch = await client.get(layout.epoch)
        if epoch is None:
            await client.set(layout.epoch, secrets.token_hex(8), nx=True)
            epoch = await client.get(layout.epoch)
        lost = self._epoch is not None and epoch != self._epoch
        if lost:
            refused = await self._publisher.seed(client, self._outbox)
            self._log.warning(
                "shared_state_reseeded", detail="redis came back without its data", refused=len(refused)
            )
        await self._flush(client)
        shared = await read_state(client, layout, self._cipher)
        seq, day_usage = await read_day_usage(client, layout, self._days.start(self._clock()))
        self._mirror.merge(shared, usage_seq=seq, day_usage=day_usage, same_epoch=epoch == self._epoch)
        self._epoch = epoch
        for key_id in shared.unreadable:
            self._report(
                key_id, "added_key_unreadable", "its raw key cannot be decrypted with this state.secret"
            )
        for name in shared.damaged:
            self._report(name, "shared_state_damaged", "a stored value cannot be read; it is ignored")

    async def _write(self, client: Redis) -> None:
        # Nothing is held back to gather more: a change goes out as soon as the writer is
        # free, so another instance knows of it within a round trip or two; under load the
        # changes that came in during one push go together in the next.
        while True:
            await self._outbox.wait()
            await self._flush(client)

    async def _flush(self, client: Redis) -> None:
        assert self._publisher is not None
        async with self._flush_lock:
            batch = self._outbox.take()
            if not batch:
                self._outbox.settle()
                return
            try:
                refused = await self._publisher.push(client, batch)
            except BaseException:
                self._outbox.restore()
                raise
            self._outbox.settle()
        if refused:
            self._log.error("shared_state_write_refused", count=len(refused), error=str(refused[0]))

    async def _read(self, client: Redis, pubsub: PubSub) -> None:
        assert self._mirror is not None
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=READ_TIMEOUT_S)
            if message is None or message.get("type") != "message":
                continue
            if self._own_mark in message["data"][:96]:
                continue  # this instance's own change, known already
            try:
                origin, change = decode_message(message["data"])
            except MessageError as exc:
                self._report("message", "shared_message_unreadable", str(exc))
                continue
            if origin == self._origin:
                continue  # (a message that did not start as this instance writes them)
            wanted = self._mirror.apply(change)
            if wanted is not None:
                await self._fetch_added(client, wanted.key_id)

    async def _fetch_added(self, client: Redis, key_id: str) -> None:
        assert self._mirror is not None
        raw = await client.hget(self._layout.added, key_id)
        if raw is None:
            return  # removed again meanwhile
        try:
            record = decode_added(key_id, raw, self._cipher)
        except UnreadableSecret as exc:
            self._report(key_id, "added_key_unreadable", str(exc))
            return
        except (ValueError, TypeError):
            self._report(key_id, "shared_state_damaged", "an added key cannot be read")
            return
        if self._mirror.add(record):
            self._log.info("key_added_by_peer", key_id=key_id)

    # -- up and down ------------------------------------------------------------------

    def _came_up(self) -> None:
        self._session_was_up = True
        if self._down_reported:
            self._log.warning("shared_state_restored", down_s=round(self._clock() - self._since, 3))
            self._down_reported = False
        elif not self._up:
            self._log.info("shared_state_connected", prefix=self._layout.prefix, instance=self._origin)
        self._set_up(True)

    def _went_down(self, exc: BaseException) -> None:
        if not self._down_reported:
            self._log.error(
                "shared_state_down",
                error=str(exc) or type(exc).__name__,
                pending=len(self._outbox),
                detail="serving from local state; reconnecting",
            )
            self._down_reported = True
        else:
            self._log.debug("shared_state_reconnect_failed", error=str(exc) or type(exc).__name__)
        self._set_up(False)

    def _set_up(self, up: bool) -> None:
        if up == self._up:
            return
        self._up = up
        self._since = self._clock()
        for watcher in self._watchers:
            watcher(up)

    def _report(self, subject: str, event: str, detail: str) -> None:
        """Log a problem with one stored thing once, not at every reconciliation."""
        if (event, subject) in self._reported:
            return
        self._reported.add((event, subject))
        self._log.error(event, subject=subject, detail=detail)
