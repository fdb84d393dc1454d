"""The ``state`` settings that turn sharing on, and what the app builds from them."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from gemini_proxy.background import make_store
from gemini_proxy.cli import main
from gemini_proxy.config import ConfigError, Settings, load_settings
from gemini_proxy.shared import SharedState, open_shared_state
from gemini_proxy.store.redis_store import RedisStore


def settings(**state: object) -> Settings:
    return load_settings(None, {}, state={"path": None, **state}, auth={"allow_unauthenticated": True})


class TestStateSettings:
    """Bad Redis settings are refused at start, naming the field."""

    @pytest.mark.parametrize(
        ("state", "problem"),
        [
            ({"redis_url": "http://127.0.0.1:6379"}, "state.redis_url: must be a redis://"),
            ({"redis_prefix": "two words"}, "state.redis_prefix: must not contain whitespace"),
            ({"redis_prefix": "pool*"}, "state.redis_prefix: must not contain"),
            ({"secret": "too-short"}, "state.secret: String should have at least 16 characters"),
        ],
    )
    def test_is_refused(self, state: dict[str, str], problem: str) -> None:
        """A URL of another scheme, a prefix a Redis pattern would misread, a short secret."""
        with pytest.raises(ConfigError, match=problem):
            settings(**state)


class TestWhatTheAppBuilds:
    """Without state.redis_url nothing changes; with it the store and the link are Redis."""

    def test_without_redis_url_there_is_no_shared_state(self) -> None:
        """No link, and the store is the one of a single instance."""
        plain = settings()
        assert open_shared_state(plain, clock=lambda: 0.0, log=structlog.get_logger()) is None
        assert make_store(plain, clock=lambda: 0.0, log=structlog.get_logger()).name == "memory"

    async def test_with_redis_url_the_store_and_the_link_use_redis(self) -> None:
        """A RedisStore and a SharedState (nothing is connected yet)."""
        shared = settings(redis_url="redis://127.0.0.1:6379/0", redis_prefix="pool-a", secret="x" * 16)
        link = open_shared_state(shared, clock=lambda: 0.0, log=structlog.get_logger())
        store = make_store(shared, clock=lambda: 0.0, log=structlog.get_logger())
        assert isinstance(link, SharedState) and isinstance(store, RedisStore)
        assert store.layout.prefix == "pool-a"
        await store.close()


class TestStateCommands:
    """``gemini-proxy state show/reset`` do not act on a local file the instances do not use."""

    @pytest.mark.parametrize("command", [["show"], ["reset", "--yes"]])
    def test_with_redis_they_point_to_the_admin_api(
        self, command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Exit status 1 and a pointer to the admin API; no state file is created."""
        config = tmp_path / "proxy.yaml"
        config.write_text(
            "auth: {allow_unauthenticated: true}\n"
            "state: {path: state.db, redis_url: 'redis://127.0.0.1:6379/0'}\n"
        )

        assert main(["state", *command, "--config", str(config)]) == 1

        assert "the state lives in Redis" in capsys.readouterr().err
        assert not (tmp_path / "state.db").exists()
