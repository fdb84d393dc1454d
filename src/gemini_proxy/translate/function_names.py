"""Function names Gemini accepts, and the way back to the client's names (D.8 #10, F#17).

Gemini wants ``^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$``. A name outside that is rewritten
(other characters -> ``_``, a leading ``_`` when it starts with a digit or a dash,
truncated to 64); two names that would collide get a numeric suffix. One
``FunctionNames`` lives for one request: tool declarations register first, history
second, so the same original always gets the same Gemini name within the request,
and ``reverse_map`` restores originals in the response.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 64
_VALID_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:\-]{0,63}")
_INVALID_CHAR = re.compile(r"[^a-zA-Z0-9_.:\-]")


def sanitise_function_name(name: str) -> str:
    """``name`` rewritten into Gemini's function name alphabet (no collision handling)."""
    if _VALID_NAME.fullmatch(name):
        return name
    cleaned = _INVALID_CHAR.sub("_", name)
    if not cleaned or not (cleaned[0].isascii() and (cleaned[0].isalpha() or cleaned[0] == "_")):
        cleaned = "_" + cleaned
    return cleaned[:MAX_NAME_LENGTH]


class FunctionNames:
    """Original <-> Gemini function names for one request."""

    __slots__ = ("_to_gemini", "_to_original")

    def __init__(self) -> None:
        self._to_gemini: dict[str, str] = {}
        self._to_original: dict[str, str] = {}

    def __contains__(self, original: str) -> bool:
        return original in self._to_gemini

    def to_gemini(self, original: str) -> str:
        """The Gemini name for ``original``, registering it on first sight."""
        known = self._to_gemini.get(original)
        if known is not None:
            return known
        candidate = sanitise_function_name(original)
        suffix = 2
        while candidate in self._to_original:
            tail = f"_{suffix}"
            candidate = sanitise_function_name(original)[: MAX_NAME_LENGTH - len(tail)] + tail
            suffix += 1
        self._to_gemini[original] = candidate
        self._to_original[candidate] = original
        return candidate

    def reverse_map(self) -> dict[str, str]:
        """Gemini name -> original, only for names that were rewritten."""
        return {gemini: original for gemini, original in self._to_original.items() if gemini != original}
