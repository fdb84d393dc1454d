"""Settings: read once from YAML (with ``${ENV}`` expansion) and the environment, validated
into one frozen object that is passed down. Nothing reads ``os.environ`` after this.

A bad file raises ``ConfigError`` whose message names the file, the field and the problem;
the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "GEMINI_PROXY_CONFIG"
KEYS_ENV = "GEMINI_API_KEYS"
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]


class LimitSettings(_Frozen):
    """Proactive limits for one key (or the pool default), optionally per model."""

    rpm: PositiveInt | None = None
    rpd: PositiveInt | None = None
    tpm: PositiveInt | None = None
    models: dict[str, LimitSettings] = Field(default_factory=dict)


class KeySettings(_Frozen):
    """One Gemini API key of the pool."""

    key: Annotated[str, Field(min_length=8)]
    name: str = ""
    project: str | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0
    limits: LimitSettings = Field(default_factory=LimitSettings)

    @field_validator("key")
    @classmethod
    def _no_whitespace(cls, value: str) -> str:
        if value != value.strip() or any(ch.isspace() for ch in value):
            raise ValueError("a key must not contain whitespace")
        if not (value.isascii() and value.isprintable()):
            # It is sent as an HTTP header value: anything else could never work.
            raise ValueError("a key must be printable ASCII")
        return value


class ServerSettings(_Frozen):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    max_body_bytes: PositiveInt = 20 * 1024 * 1024
    shutdown_grace_s: Annotated[float, Field(ge=0)] = 30.0


class UpstreamSettings(_Frozen):
    base_url: str = "https://generativelanguage.googleapis.com"
    connect_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    request_timeout_s: Annotated[float, Field(gt=0)] = 600.0
    # The whole request's budget across failover attempts (default: request_timeout_s x
    # pool.max_attempts). No new attempt starts after it.
    deadline_s: Annotated[float, Field(gt=0)] | None = None
    max_connections: NonNegativeInt = 0  # 0: no limit

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class ClientToken(_Frozen):
    name: Annotated[str, Field(min_length=1)]
    token: Annotated[str, Field(min_length=8)]


class AuthSettings(_Frozen):
    client_tokens: tuple[ClientToken, ...] = ()
    admin_token: Annotated[str, Field(min_length=8)] | None = None
    allow_unauthenticated: bool = False

    @model_validator(mode="after")
    def _distinct(self) -> AuthSettings:
        names = [t.name for t in self.client_tokens]
        if len(set(names)) != len(names):
            raise ValueError("client token names must be unique")
        values = [t.token for t in self.client_tokens]
        if len(set(values)) != len(values):
            raise ValueError("client token values must be unique")
        return self


class PoolSettings(_Frozen):
    strategy: Literal["round_robin", "least_used", "weighted"] = "round_robin"
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3  # transient failures tried per request
    # keys one request may move through when keys answer 429 or reject it
    max_failover_keys: Annotated[int, Field(ge=1, le=100)] = 16
    failure_threshold: Annotated[int, Field(ge=1)] = 3
    backoff_base_s: Annotated[float, Field(gt=0)] = 2.0
    backoff_max_s: Annotated[float, Field(gt=0)] = 900.0
    min_health: Annotated[float, Field(ge=0, le=1)] = 0.2
    probe_initial_s: Annotated[float, Field(gt=0)] = 60.0
    probe_max_s: Annotated[float, Field(gt=0)] = 6 * 3600.0
    probe_interval_s: Annotated[float, Field(gt=0)] = 5.0  # how often the prober looks for due keys
    wait_for_key_s: Annotated[float, Field(ge=0)] = 0.0
    limits: LimitSettings = Field(default_factory=LimitSettings)


class StateSettings(_Frozen):
    path: Path | None = Path("../data/state.db")
    flush_interval_s: Annotated[float, Field(gt=0)] = 5.0
    # Set: the key state is shared with every instance using this Redis and prefix.
    redis_url: str | None = None
    redis_prefix: Annotated[str, Field(min_length=1)] = "gemini-proxy"
    # Encrypts keys added through the admin API before they are stored in Redis.
    secret: Annotated[str, Field(min_length=16)] | None = None

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("redis_prefix")
    @classmethod
    def _plain_prefix(cls, value: str) -> str:
        if re.search(r"[\s*?\[\]]", value):
            raise ValueError("must not contain whitespace or the characters * ? [ ]")
        return value


class ModelSettings(_Frozen):
    default: str = "gemini-2.5-flash"
    aliases: dict[str, str] = Field(default_factory=dict)


class OpenAISettings(_Frozen):
    fetch_remote_media: bool = False
    remote_media_max_bytes: PositiveInt = 10 * 1024 * 1024
    remote_media_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    include_thoughts: bool = False
    models_cache_s: Annotated[float, Field(ge=0)] = 300.0


class LoggingSettings(_Frozen):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"
    access_log: bool = True


class MetricsSettings(_Frozen):
    enabled: bool = True
    require_admin_token: bool = False


class Settings(_Frozen):
    """The whole, validated configuration."""

    server: ServerSettings = Field(default_factory=ServerSettings)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    keys: tuple[KeySettings, ...] = ()
    keys_file: Path | None = None
    pool: PoolSettings = Field(default_factory=PoolSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    source: str = "<defaults>"

    @model_validator(mode="after")
    def _safe(self) -> Settings:
        if not self.auth.client_tokens and not self.auth.allow_unauthenticated:
            raise ValueError(
                "no client token is configured (auth.client_tokens); set auth.allow_unauthenticated: true "
                "to serve without client authentication"
            )
        secrets = [k.key for k in self.keys]
        if len(set(secrets)) != len(secrets):
            raise ValueError("the same Gemini key is configured twice")
        return self


def _expand_env(value: Any, environ: Mapping[str, str], where: str) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a YAML document."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"field {where}: environment variable {name} is not set")

        return _ENV_PATTERN.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, environ, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None


def _expand_file(data: Any, environ: Mapping[str, str], path: Path) -> Any:
    try:
        return _expand_env(data, environ, "")
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _keys_from_file(path: Path, environ: Mapping[str, str]) -> list[Any]:
    data = _expand_file(_read_yaml(path), environ, path)
    if data is None:
        return []
    if isinstance(data, dict) and "keys" in data:
        data = data["keys"]
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of keys (or a mapping with a 'keys' list)")
    return [{"key": item} if isinstance(item, str) else item for item in data]


def _format_validation_error(source: str, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        lines.append(f"{source}: field {field}: {message}")
    return "\n".join(lines)


def load_settings(path: Path | None, environ: Mapping[str, str], **overrides: Any) -> Settings:
    """Read, expand and validate the configuration; ``overrides`` replace top-level sections."""
    raw: dict[str, Any] = {}
    source = "<defaults>"
    base_dir = Path.cwd()
    if path is None and environ.get(CONFIG_ENV):
        path = Path(environ[CONFIG_ENV])
    if path is not None:
        source = str(path)
        base_dir = path.parent
        loaded = _read_yaml(path)
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        raw = _expand_file(loaded, environ, path)
    keys: list[Any] = list(raw.get("keys") or [])
    keys = [{"key": item} if isinstance(item, str) else item for item in keys]
    keys_file = raw.get("keys_file")
    if keys_file is not None:
        keys_path = (base_dir / str(keys_file)).resolve()
        raw["keys_file"] = keys_path
        keys.extend(_keys_from_file(keys_path, environ))
    env_keys = [k.strip() for k in environ.get(KEYS_ENV, "").split(",") if k.strip()]
    configured = {k.get("key") for k in keys if isinstance(k, dict)}
    keys.extend({"key": k} for k in env_keys if k not in configured)
    raw["keys"] = keys
    state = raw.get("state")
    if isinstance(state, dict) and state.get("path") is not None:
        state = {**state, "path": (base_dir / str(state["path"])).resolve()}
        raw["state"] = state
    elif state is None:
        default = base_dir / "../data/state.db" if path is not None else base_dir / "data/state.db"
        raw["state"] = {"path": default.resolve()}
    raw.update(overrides)
    raw["source"] = source
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(source, exc)) from None
