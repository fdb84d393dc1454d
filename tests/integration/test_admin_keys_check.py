"""``gemini-proxy keys check``: every configured key probed against the upstream, a progress
bar on stderr and a table of results on stdout."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from pathlib import Path

from gemini_proxy.config import load_settings
from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.keys.model import key_id, mask
from gemini_proxy.keys_check import (
    ProbeResult,
    check_configured_keys,
    format_table,
    progress_bar,
    run_keys_check,
)
from tests.conftest import CLIENT_TOKEN, KEYS, FakeFactory

MIXED = FakeConfig(
    rules=(
        Rule(key_prefix=KEYS[0], behavior=Behavior.INVALID_KEY),
        Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_DAY),
        Rule(key_prefix=KEYS[2], behavior=Behavior.SERVER_ERROR),
    )
)


def _config(tmp_path: Path, base_url: str, keys: list[str]) -> Path:
    path = tmp_path / "proxy.yaml"
    path.write_text(
        f"auth: {{client_tokens: [{{name: t, token: {CLIENT_TOKEN}}}]}}\n"
        f"upstream: {{base_url: '{base_url}', connect_timeout_s: 1, request_timeout_s: 5}}\n"
        "keys:\n" + "".join(f"  - {{key: {key}, name: key-{i}}}\n" for i, key in enumerate(keys, start=1))
    )
    return path


async def _cli(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gemini_proxy.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEYS", "GEMINI_PROXY_CONFIG")},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class TestCheckKeys:
    async def test_each_result_class(self, fake_factory: FakeFactory, tmp_path: Path) -> None:
        """Rejected, out of quota, failing and working keys read as the four results, in order."""
        fake = await fake_factory(MIXED)
        settings = load_settings(_config(tmp_path, fake.url, KEYS), {})
        progress = io.StringIO()
        checks = await check_configured_keys(settings, progress=progress_bar(progress))
        assert [c.result for c in checks] == [
            ProbeResult.INVALID,
            ProbeResult.QUOTA_EXHAUSTED,
            ProbeResult.UNREACHABLE,
            ProbeResult.VALID,
        ]
        assert [c.key_id for c in checks] == [key_id(k) for k in KEYS]
        assert set(fake.state.requests_by_method) == {"models.get"}  # no generation quota spent
        assert progress.getvalue().endswith("] 4/4\n")

    async def test_table_shows_masked_keys(self, fake_factory: FakeFactory, tmp_path: Path) -> None:
        """The table lists id, name, masked key, result and detail, and a count per result."""
        fake = await fake_factory(MIXED)
        checks = await check_configured_keys(load_settings(_config(tmp_path, fake.url, KEYS), {}))
        table = format_table(checks)
        lines = table.splitlines()
        assert lines[0].split() == ["ID", "NAME", "KEY", "RESULT", "DETAIL"]
        assert lines[1].split()[:4] == [key_id(KEYS[0]), "key-1", mask(KEYS[0]), "invalid"]
        assert lines[-1] == "1 valid, 1 invalid, 1 quota exhausted, 1 unreachable, 0 error"
        assert not any(key in table for key in KEYS)


class TestCommand:
    async def test_mixed_pool_exits_1_with_progress_and_table(
        self, fake_factory: FakeFactory, tmp_path: Path
    ) -> None:
        """The command prints the bar on stderr, the table on stdout, and exits 1 for a bad key."""
        fake = await fake_factory(MIXED)
        code, out, err = await _cli("keys", "check", "--config", str(_config(tmp_path, fake.url, KEYS)))
        assert code == 1
        assert "checking keys [" in err and "4/4" in err
        assert "RESULT" in out and "quota_exhausted" in out and "1 invalid" in out
        assert not any(key in out + err for key in KEYS)

    async def test_healthy_pool_exits_0(self, fake: RunningFake, tmp_path: Path) -> None:
        """Every key valid: exit status 0."""
        code, out, _ = await _cli("keys", "check", "--config", str(_config(tmp_path, fake.url, KEYS[:2])))
        assert code == 0 and "2 valid" in out

    def test_unreachable_upstream(self, tmp_path: Path) -> None:
        """An upstream that refuses connections makes every key unreachable (exit 1)."""
        settings = load_settings(_config(tmp_path, "http://127.0.0.1:9", KEYS[:2]), {})
        out, err = io.StringIO(), io.StringIO()
        assert run_keys_check(settings, out=out, err=err) == 1
        assert "2 unreachable" in out.getvalue() and "connect_error" in out.getvalue()
        assert err.getvalue().endswith("] 2/2\n")

    def test_no_keys(self, tmp_path: Path) -> None:
        """Without keys there is nothing to check: a message and exit 1."""
        settings = load_settings(_config(tmp_path, "http://127.0.0.1:9", []), {})
        out, err = io.StringIO(), io.StringIO()
        assert run_keys_check(settings, out=out, err=err) == 1
        assert "no keys are configured" in err.getvalue() and out.getvalue() == ""
