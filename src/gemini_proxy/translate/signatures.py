"""Where thought signatures wait between a tool call and its follow-up (protocol.md D.10).

Gemini attaches an opaque ``thoughtSignature`` to the first function call of each
step and, for Gemini 3, refuses a follow-up that does not send it back. OpenAI
clients rarely echo it, so the proxy keeps it in two more places besides Google's
``extra_content`` convention:

- ``SignatureCache``: tool call id -> (signature, function name), a bounded LRU with a
  time-to-live. It also remembers the function name, which answers a tool message
  whose call is no longer in the request (F#5).
- the tool call id itself (``call_<rand>__thought__<sig>``), stateless, opt-in.

Time is passed in; the cache never reads a clock.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# The value Google documents for history that has no real signature (F#36).
DUMMY_SIGNATURE = "skip_thought_signature_validator"

_ID_SIGNATURE_MARKER = "__thought__"


@dataclass(frozen=True, slots=True)
class CachedToolCall:
    """What the cache knows about a tool call id."""

    signature: str | None
    name: str
    expires_at: float


class SignatureCache:
    """Bounded LRU of tool call id -> (signature, name) with a TTL.

    Bounded both by entry count and by the total size of the signatures it holds
    (signatures can be kilobytes each). Not thread-safe: it lives on one event loop.
    """

    def __init__(
        self, *, max_entries: int = 10_000, ttl_s: float = 86_400.0, max_total_chars: int = 64_000_000
    ) -> None:
        if max_entries < 1 or ttl_s <= 0 or max_total_chars < 1:
            raise ValueError("SignatureCache needs max_entries >= 1, ttl_s > 0 and max_total_chars >= 1")
        self._entries: OrderedDict[str, CachedToolCall] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._max_total_chars = max_total_chars
        self._total_chars = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, tool_call_id: str, signature: str | None, name: str, now: float) -> None:
        """Remember a tool call emitted at ``now``; the oldest entries make room."""
        old = self._entries.pop(tool_call_id, None)
        if old is not None:
            self._total_chars -= _size(old)
        entry = CachedToolCall(signature, name, now + self._ttl_s)
        self._entries[tool_call_id] = entry
        self._total_chars += _size(entry)
        while len(self._entries) > self._max_entries or (
            self._total_chars > self._max_total_chars and len(self._entries) > 1
        ):
            _, evicted = self._entries.popitem(last=False)
            self._total_chars -= _size(evicted)

    def get(self, tool_call_id: str, now: float) -> CachedToolCall | None:
        """The entry for ``tool_call_id`` if present and not expired at ``now``."""
        entry = self._entries.get(tool_call_id)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._entries[tool_call_id]
            self._total_chars -= _size(entry)
            return None
        self._entries.move_to_end(tool_call_id)
        return entry


def _size(entry: CachedToolCall) -> int:
    return len(entry.name) + (len(entry.signature) if entry.signature else 0)


def embed_signature(tool_call_id: str, signature: str) -> str:
    """A tool call id that carries its signature: ``call_x__thought__<sig>``."""
    return f"{tool_call_id}{_ID_SIGNATURE_MARKER}{signature}"


def signature_from_id(tool_call_id: str) -> str | None:
    """The signature embedded in a tool call id by ``embed_signature``, if any."""
    _, marker, signature = tool_call_id.partition(_ID_SIGNATURE_MARKER)
    return signature if marker and signature else None
