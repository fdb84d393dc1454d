"""No raw Gemini key or client/admin token in any log line or response body."""

from __future__ import annotations

import aiohttp

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from tests.conftest import ADMIN_TOKEN, CLIENT_TOKEN, KEYS, FakeFactory, ProxyFactory

SECRETS = [*KEYS, CLIENT_TOKEN, ADMIN_TOKEN]


class TestNoSecretLeaks:
    async def test_logs_and_bodies_hold_no_secret(
        self, proxy_factory: ProxyFactory, fake_factory: FakeFactory
    ) -> None:
        """A run through successes, failovers, auth failures and errors leaks no secret value."""
        fake = await fake_factory(
            FakeConfig(
                rules=(
                    Rule(key_prefix=KEYS[0], behavior=Behavior.INVALID_KEY),
                    Rule(key_prefix=KEYS[1], behavior=Behavior.RATE_MINUTE),
                    Rule(key_prefix=KEYS[2], behavior=Behavior.UNAVAILABLE),
                )
            )
        )
        proxy = await proxy_factory(upstream={"base_url": fake.url})
        bodies: list[bytes] = []
        header_values: list[str] = []
        requests = [
            ("POST", "/v1beta/models/gemini-2.5-flash:generateContent", {"x-goog-api-key": CLIENT_TOKEN}),
            (
                "POST",
                "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
                {"x-goog-api-key": CLIENT_TOKEN},
            ),
            ("POST", f"/v1/models/gemini-2.5-flash:generateContent?key={CLIENT_TOKEN}", {}),
            (
                "POST",
                "/v1beta/models/gemini-2.5-flash:generateContent",
                {"x-goog-api-key": "wrong-token-000000"},
            ),
            ("POST", "/v1beta/models/unknown-model:generateContent", {"x-goog-api-key": CLIENT_TOKEN}),
            ("GET", "/v1beta/models", {"x-goog-api-key": CLIENT_TOKEN}),
            ("GET", "/readyz", {}),
            ("GET", "/nope", {"Authorization": f"Bearer {ADMIN_TOKEN}"}),
        ]
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                for method, path, headers in requests:
                    async with session.request(
                        method,
                        f"{proxy.url}{path}",
                        data=b'{"contents": [{"parts": [{"text": "hi"}]}]}' if method == "POST" else None,
                        headers={"Content-Type": "application/json", **headers},
                    ) as response:
                        bodies.append(await response.read())
                        header_values.extend(f"{k}: {v}" for k, v in response.headers.items())
        await proxy.runner.cleanup()
        log_text = proxy.log.getvalue()
        assert '"event": "access"' in log_text or '"event":"access"' in log_text
        everything = (
            log_text + "\n".join(b.decode("utf-8", "replace") for b in bodies) + "\n".join(header_values)
        )
        for secret in SECRETS:
            assert secret not in everything, f"a secret leaked: {secret[:6]}..."
