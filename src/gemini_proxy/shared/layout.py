"""Where the shared key state lives in Redis: every name under one prefix.

Several pools can share one Redis as long as each has its own ``state.redis_prefix``
(``P`` below). The layout::

    P:keys                      SET   ids of keys that have shared state
    P:key:{key_id}              HASH  the key's record (``KeyStateRecord`` fields) and the
                                      stamps of its registers: status_at, breaker_at, reset_at
    P:cooldowns:{key_id}        HASH  model -> JSON {until, reason, per_day, set_at}
    P:added                     HASH  key_id -> JSON of a key added through the admin API
                                      (its raw key Fernet-encrypted when state.secret is set)
    P:usage                     ZSET  names of the usage hashes, scored by when they expire
    P:usage:{window}:{start}    HASH  "{key_id}:{model}:r" requests, "...:t" tokens
    P:seq                       STR   sequence number of usage increments
    P:epoch                     STR   a random token; a new one means Redis lost its data
    P:events                    pub/sub channel of changes (see ``messages``)

No raw Gemini key is stored except in ``P:added``.
"""

from __future__ import annotations

from dataclasses import dataclass

REQUESTS = "r"
TOKENS = "t"


@dataclass(frozen=True, slots=True)
class RedisLayout:
    """The Redis names of one pool's shared state."""

    prefix: str

    @property
    def keys(self) -> str:
        """The set of key ids with shared state."""
        return f"{self.prefix}:keys"

    def key(self, key_id: str) -> str:
        """The hash of one key's record and register stamps."""
        return f"{self.prefix}:key:{key_id}"

    def cooldowns(self, key_id: str) -> str:
        """The hash of one key's cooldowns, by model."""
        return f"{self.prefix}:cooldowns:{key_id}"

    @property
    def added(self) -> str:
        """The hash of keys added through the admin API."""
        return f"{self.prefix}:added"

    @property
    def usage_index(self) -> str:
        """The sorted set naming every usage hash."""
        return f"{self.prefix}:usage"

    def usage(self, window: str, start: float) -> str:
        """The hash of usage counters of one window (``day`` or ``minute``) starting at ``start``."""
        return f"{self.prefix}:usage:{window}:{start!r}"

    def parse_usage(self, name: str) -> tuple[str, float] | None:
        """``(window, start)`` of a usage hash name; ``None`` for a name of another shape."""
        head = f"{self.prefix}:usage:"
        if not name.startswith(head):
            return None
        window, _, start = name[len(head) :].partition(":")
        try:
            return window, float(start)
        except ValueError:
            return None

    @property
    def seq(self) -> str:
        """The counter numbering usage increments."""
        return f"{self.prefix}:seq"

    @property
    def epoch(self) -> str:
        """The token that changes when Redis starts over without its data."""
        return f"{self.prefix}:epoch"

    @property
    def channel(self) -> str:
        """The pub/sub channel of changes."""
        return f"{self.prefix}:events"


def usage_field(key_id: str, model: str, kind: str) -> str:
    """The field of a usage hash counting ``kind`` (``r`` or ``t``) for one (key, model)."""
    return f"{key_id}:{model}:{kind}"


def parse_usage_field(field: str) -> tuple[str, str, str] | None:
    """``(key_id, model, kind)`` of a usage field (key ids hold no colon; models may)."""
    key_id, _, rest = field.partition(":")
    model, _, kind = rest.rpartition(":")
    if not key_id or not model or kind not in (REQUESTS, TOKENS):
        return None
    return key_id, model, kind
