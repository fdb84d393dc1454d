"""Configuration loading: env expansion, keys from everywhere, and one clear message per bad file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gemini_proxy.config import ConfigError, load_settings

GOOD = """
auth:
  client_tokens: [{name: t, token: "${TOKEN}"}]
  admin_token: "${ADMIN:-admin-default-token}"
keys_file: keys.yaml
upstream: {base_url: "http://127.0.0.1:9999/"}
state: {path: ../data/state.db}
"""


def _write(tmp_path: Path, text: str, keys: str | None = "- key: AIzaFILEKEY0000000001\n  name: a\n") -> Path:
    path = tmp_path / "conf" / "proxy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if keys is not None:
        (path.parent / "keys.yaml").write_text(keys)
    return path


class TestLoadSettings:
    def test_env_expansion_keys_file_and_env_keys(self, tmp_path: Path) -> None:
        """${VAR} and ${VAR:-default} expand; keys come from keys_file and GEMINI_API_KEYS."""
        path = _write(tmp_path, GOOD)
        settings = load_settings(
            path, {"TOKEN": "secret-token-1", "GEMINI_API_KEYS": "AIzaENV00000001, AIzaENV00000002"}
        )
        assert settings.auth.client_tokens[0].token == "secret-token-1"
        assert settings.auth.admin_token == "admin-default-token"
        assert [k.key for k in settings.keys] == [
            "AIzaFILEKEY0000000001",
            "AIzaENV00000001",
            "AIzaENV00000002",
        ]
        assert settings.upstream.base_url == "http://127.0.0.1:9999"
        assert settings.state.path == (tmp_path / "data" / "state.db").resolve()

    def test_config_path_from_environment(self, tmp_path: Path) -> None:
        """GEMINI_PROXY_CONFIG names the file when no path is given."""
        path = _write(tmp_path, GOOD)
        settings = load_settings(None, {"GEMINI_PROXY_CONFIG": str(path), "TOKEN": "secret-token-1"})
        assert settings.source == str(path)

    def test_settings_are_frozen(self, tmp_path: Path) -> None:
        """The settings object cannot be changed after validation."""
        settings = load_settings(_write(tmp_path, GOOD), {"TOKEN": "secret-token-1"})
        with pytest.raises(ValueError, match="frozen"):
            settings.server.port = 1  # type: ignore[misc]


BAD_FILES = [
    ("server: [unclosed", None, "not valid YAML at line 1"),
    ("- a\n- b\n", None, "top level must be a mapping"),
    (
        "auth: {client_tokens: [{name: t, token: '${MISSING}'}]}",
        None,
        "environment variable MISSING is not set",
    ),
    ("server: {port: 99999}\nauth: {allow_unauthenticated: true}", None, "field server.port"),
    ("auth: {allow_unauthenticated: true}\nbogus: 1", None, "field bogus: unknown field"),
    ("auth: {client_tokens: []}", None, "no client token is configured"),
    ("auth: {client_tokens: [{name: t, token: short}]}", None, "field auth.client_tokens.0.token"),
    ("auth: {allow_unauthenticated: true}\npool: {strategy: random}", None, "field pool.strategy"),
    ("auth: {allow_unauthenticated: true}\nupstream: {base_url: 'ftp://x'}", None, "field upstream.base_url"),
    ("auth: {allow_unauthenticated: true}\nkeys_file: keys.yaml", "key: 1", "expected a list of keys"),
    ("auth: {allow_unauthenticated: true}\nkeys_file: missing.yaml", None, "missing.yaml: file not found"),
    ("auth: {allow_unauthenticated: true}\nkeys: [{key: 'has space in it'}]", None, "field keys.0.key"),
    (
        "auth: {allow_unauthenticated: true}\nkeys: [AIzaDUPLICATE0001, AIzaDUPLICATE0001]",
        None,
        "configured twice",
    ),
]


class TestBadConfigFiles:
    @pytest.mark.parametrize(("text", "keys", "message"), BAD_FILES)
    def test_bad_file_names_file_field_and_problem(
        self, tmp_path: Path, text: str, keys: str | None, message: str
    ) -> None:
        """Each bad file gives one ConfigError naming the file and the problem."""
        path = _write(tmp_path, text, keys)
        with pytest.raises(ConfigError) as raised:
            load_settings(path, {})
        assert message in str(raised.value)
        assert "proxy.yaml" in str(raised.value) or "yaml" in str(raised.value)

    @pytest.mark.parametrize(("text", "keys", "message"), BAD_FILES[:4])
    def test_cli_config_check_exits_2(
        self, tmp_path: Path, text: str, keys: str | None, message: str
    ) -> None:
        """`gemini-proxy config check` prints the message and exits with status 2."""
        path = _write(tmp_path, text, keys)
        result = subprocess.run(
            [sys.executable, "-m", "gemini_proxy.cli", "config", "check", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )
        assert result.returncode == 2
        assert message in result.stderr

    def test_cli_config_check_accepts_good_file(self, tmp_path: Path) -> None:
        """A good file is reported OK with exit status 0."""
        path = _write(tmp_path, GOOD)
        result = subprocess.run(
            [sys.executable, "-m", "gemini_proxy.cli", "config", "check", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "TOKEN": "secret-token-1"},
        )
        assert result.returncode == 0, result.stderr
        assert "OK (1 keys" in result.stdout
