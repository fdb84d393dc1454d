"""Sealing the raw keys of admin-added keys before they go to Redis.

With ``state.secret`` set, a raw key is stored Fernet-encrypted (AES-128-CBC with an
HMAC-SHA256, from the ``cryptography`` package) under a key derived from the secret with
scrypt; every instance sharing the Redis prefix needs the same secret. Without a secret
the raw key is stored as it is (and the start-up log says so). A stored key that cannot
be opened (no secret, a different secret, a damaged value) raises ``UnreadableSecret``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

_SALT = b"gemini-proxy/added-keys/v1"


class UnreadableSecret(ValueError):
    """A stored raw key cannot be decrypted with this instance's secret."""


class _Fernet(Protocol):
    def encrypt(self, data: bytes) -> bytes: ...

    def decrypt(self, token: bytes) -> bytes: ...


@functools.lru_cache(maxsize=4)
def derive_fernet_key(secret: str) -> bytes:
    """The Fernet key for ``secret``: 32 bytes of scrypt, URL-safe base64 (derived once)."""
    derived = hashlib.scrypt(secret.encode(), salt=_SALT, n=2**14, r=8, p=1, dklen=32)
    return base64.urlsafe_b64encode(derived)


class SecretCipher:
    """Seals raw keys for storage, and opens them again (see the module docstring)."""

    def __init__(self, secret: str | None) -> None:
        self._fernet: _Fernet | None = None
        if secret:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(derive_fernet_key(secret))

    @property
    def encrypts(self) -> bool:
        """Whether raw keys are stored encrypted."""
        return self._fernet is not None

    def seal(self, raw_key: str) -> dict[str, str]:
        """The stored fields of a raw key: ``{"secret_enc": token}`` or ``{"secret": raw_key}``."""
        if self._fernet is None:
            return {"secret": raw_key}
        return {"secret_enc": self._fernet.encrypt(raw_key.encode()).decode()}

    def open(self, data: Mapping[str, Any]) -> str:
        """The raw key of stored fields written by ``seal`` (of this or any secret-less instance)."""
        if "secret_enc" in data:
            if self._fernet is None:
                raise UnreadableSecret("the key is encrypted and no state.secret is configured")
            from cryptography.fernet import InvalidToken

            try:
                return self._fernet.decrypt(str(data["secret_enc"]).encode()).decode()
            except (InvalidToken, UnicodeDecodeError):
                raise UnreadableSecret("the key cannot be decrypted with this state.secret") from None
        raw = data.get("secret")
        if not isinstance(raw, str) or not raw:
            raise UnreadableSecret("the stored key has no secret")
        return raw
