"""``POST /admin/reload``: read the configuration file again and apply it to the running app.

Applied at once:

- the keys: new keys join fresh, configured keys no longer listed leave, a key whose
  name, project, weight or limits changed keeps its state under the new spec, and
  unchanged keys are not touched (``KeyPool.reconfigure``); keys added through the admin
  API stay;
- client tokens and the admin token (new authenticators), and the log redactor learns
  every new secret (it keeps the old ones: they may still be in flight);
- ``Services.settings`` is replaced by the new settings, so whatever handlers read from
  it per request (``models``, ``openai``, ``server.max_body_bytes``...) follows.

Sections the lifespan consumed once at start (``server`` listening and size limits,
``upstream``, ``pool``, ``state``, ``logging``, ``metrics``) need a restart to change;
the result names those that differ. The file is read with the environment captured at
start (``${VAR}`` expansion), never ``os.environ`` at reload time.

An invalid file is refused (``InvalidConfig``, 400, with the ``ConfigError`` text) and
the running configuration is left exactly as it was: everything is built first and
applied in one synchronous step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gemini_proxy.auth import AdminAuthenticator, ClientAuthenticator
from gemini_proxy.config import ConfigError, Settings, load_settings
from gemini_proxy.errors import ProxyError
from gemini_proxy.pool_factory import key_spec

if TYPE_CHECKING:
    from gemini_proxy.services import Services

RESTART_SECTIONS = ("server", "upstream", "pool", "state", "logging", "metrics")
NO_FILE = "<defaults>"


class InvalidConfig(ProxyError):
    """The configuration file cannot be used; the running configuration is unchanged (400)."""

    status = 400
    code = "invalid_config"


class NothingToReload(ProxyError):
    """The proxy was started without a configuration file (409)."""

    status = 409
    code = "no_config_file"


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """What a reload changed (key ids) and which changed sections wait for a restart."""

    source: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    restart_required: list[str]
    keys: int


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value of ``settings``: pool keys, client tokens, the admin token."""
    values = [key.key for key in settings.keys]
    values += [token.token for token in settings.auth.client_tokens]
    if settings.auth.admin_token:
        values.append(settings.auth.admin_token)
    return values


class ConfigReloader:
    """Re-reads ``settings.source`` with the environment captured at start."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = dict(environ)
        self._lock = asyncio.Lock()

    async def reload(self, services: Services) -> ReloadResult:
        """Read, validate and apply the configuration file (see the module docstring)."""
        async with self._lock:
            current = services.settings
            if current.source == NO_FILE:
                raise NothingToReload("the proxy was started without a configuration file")
            try:
                new = await asyncio.to_thread(load_settings, Path(current.source), self._environ)
            except ConfigError as exc:
                raise InvalidConfig(services.redactor.redact(str(exc))) from None
            return self._apply(services, current, new)

    def _apply(self, services: Services, current: Settings, new: Settings) -> ReloadResult:
        try:
            specs = [key_spec(key) for key in new.keys]
        except ValueError as exc:
            raise InvalidConfig(f"{new.source}: {exc}") from None
        client_auth = ClientAuthenticator(
            [(token.name, token.token) for token in new.auth.client_tokens],
            allow_unauthenticated=new.auth.allow_unauthenticated,
        )
        admin_auth = AdminAuthenticator(new.auth.admin_token)
        services.redactor.update(secrets_of(new))
        added, removed, changed = services.pool.reconfigure(specs)
        services.client_auth = client_auth
        services.admin_auth = admin_auth
        services.settings = new
        restart = [name for name in RESTART_SECTIONS if getattr(current, name) != getattr(new, name)]
        services.log.info(
            "config_reloaded",
            config=new.source,
            added=added,
            removed=removed,
            changed=changed,
            restart_required=restart,
        )
        return ReloadResult(new.source, added, removed, changed, restart, len(services.pool))
