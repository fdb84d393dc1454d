"""A pool key as configured, and the two safe ways to name it: its id and its masked form.

A raw key never leaves this package except as ``Lease.secret`` (to put in the upstream
request) and ``AddedKeyRecord.secret`` (to persist keys added at run time). Everywhere
else a key is its ``key_id`` (a stable fingerprint) or its ``mask`` (for people).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from gemini_proxy.keys.limits import ModelLimits

KEY_ID_LENGTH = 12


def key_id(secret: str) -> str:
    """The key's stable id: the first 12 hex digits of the SHA-256 of the raw key."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:KEY_ID_LENGTH]


def mask(secret: str) -> str:
    """The key for display: ``AIza...wxyz`` (first 4, last 4); short keys entirely starred.

    A key of 12 characters or fewer would reveal most of itself that way, so it is
    shown as stars of the same length instead.
    """
    if len(secret) <= 12:
        return "*" * len(secret)
    return f"{secret[:4]}...{secret[-4:]}"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One configured key. ``secret`` is kept out of ``repr``.

    ``project`` groups keys that share one Google Cloud project, and so one quota: a
    rate limit seen on one of them cools the model on all of them. ``weight`` scales the
    key's share under the ``weighted`` strategy.
    """

    secret: str = field(repr=False)
    name: str = ""
    project: str | None = None
    weight: float = 1.0
    limits: ModelLimits = field(default_factory=ModelLimits)

    def __post_init__(self) -> None:
        if not self.secret or self.secret != self.secret.strip():
            raise ValueError("a key must be a non-empty string without surrounding whitespace")
        if not self.weight > 0:
            raise ValueError("a key's weight must be positive")

    @property
    def key_id(self) -> str:
        """The key's id (see ``key_id``)."""
        return key_id(self.secret)

    @property
    def masked(self) -> str:
        """The key's display form (see ``mask``)."""
        return mask(self.secret)

    @property
    def display_name(self) -> str:
        """The configured name, or the masked key when none was given."""
        return self.name or self.masked
