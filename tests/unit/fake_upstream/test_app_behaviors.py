"""Scenario behaviours over a real socket: error bodies, quotas, flakiness, delays and broken streams."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson
import pytest

from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from tests.unit.fake_upstream.conftest import GENERATE, KEY_HEADERS, STREAM, FakeStarter, post_json, user_text

TYPE = "type.googleapis.com/google.rpc."
PRO_GENERATE = "/v1beta/models/gemini-2.5-pro:generateContent"


def one_rule(**fields: Any) -> FakeConfig:
    """A scenario with a single rule."""
    return FakeConfig(rules=(Rule(**fields),))


def detail_types(body: dict[str, Any]) -> set[str]:
    """The short @type names of an error body's details."""
    return {d["@type"].removeprefix(TYPE) for d in body["error"].get("details", [])}


class TestErrorBehaviors:
    @pytest.mark.parametrize(
        ("behavior", "code", "status", "details"),
        [
            (Behavior.INVALID_KEY, 400, "INVALID_ARGUMENT", {"ErrorInfo", "LocalizedMessage"}),
            (Behavior.EXPIRED_KEY, 400, "INVALID_ARGUMENT", {"ErrorInfo", "LocalizedMessage"}),
            (Behavior.PERMISSION_DENIED, 403, "PERMISSION_DENIED", {"ErrorInfo", "LocalizedMessage", "Help"}),
            (Behavior.UNAUTHENTICATED, 401, "UNAUTHENTICATED", {"ErrorInfo"}),
            (Behavior.RATE_MINUTE, 429, "RESOURCE_EXHAUSTED", {"QuotaFailure", "Help", "RetryInfo"}),
            (Behavior.RATE_DAY, 429, "RESOURCE_EXHAUSTED", {"QuotaFailure", "Help", "RetryInfo"}),
            (Behavior.RATE_BARE, 429, "RESOURCE_EXHAUSTED", set()),
            (Behavior.SERVER_ERROR, 500, "INTERNAL", set()),
            (Behavior.UNAVAILABLE, 503, "UNAVAILABLE", set()),
        ],
    )
    async def test_status_and_body_shape(
        self,
        start_fake: FakeStarter,
        session: aiohttp.ClientSession,
        behavior: Behavior,
        code: int,
        status: str,
        details: set[str],
    ) -> None:
        """Each error behaviour answers its HTTP status with the A.6 body and its detail types."""
        fake = await start_fake(one_rule(behavior=behavior))
        got_status, body = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert got_status == code
        assert (body["error"]["code"], body["error"]["status"]) == (code, status)
        assert body["error"]["message"]
        assert detail_types(body) == details

    async def test_rate_minute_carries_model_and_delay(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """rate_minute names the URL model in quotaDimensions and retry_delay_s in RetryInfo and text."""
        fake = await start_fake(one_rule(behavior=Behavior.RATE_MINUTE, retry_delay_s=7))
        _, body = await post_json(session, fake.url + PRO_GENERATE, user_text("hi"))
        details = {d["@type"].removeprefix(TYPE): d for d in body["error"]["details"]}
        violation = details["QuotaFailure"]["violations"][0]
        assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        assert violation["quotaDimensions"]["model"] == "gemini-2.5-pro"
        assert details["RetryInfo"]["retryDelay"] == "7s"
        assert body["error"]["message"].endswith("Please retry in 7s.")

    async def test_rate_day_names_the_day_quota(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """rate_day uses the PerDay quota id and a retry delay of hours, not seconds."""
        fake = await start_fake(one_rule(behavior=Behavior.RATE_DAY))
        _, body = await post_json(session, fake.url + GENERATE, user_text("hi"))
        details = {d["@type"].removeprefix(TYPE): d for d in body["error"]["details"]}
        assert "PerDay" in details["QuotaFailure"]["violations"][0]["quotaId"]
        assert float(details["RetryInfo"]["retryDelay"].removesuffix("s")) > 60

    async def test_errors_apply_to_other_routes(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """A key rejected by a rule is rejected on models.list too."""
        fake = await start_fake(one_rule(behavior=Behavior.INVALID_KEY))
        async with session.get(fake.url + "/v1beta/models", headers=KEY_HEADERS) as response:
            assert response.status == 400


class TestRuleMatching:
    async def test_by_key_prefix(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """Only keys with the rule's prefix get its behaviour; others are served."""
        fake = await start_fake(one_rule(key_prefix="bad-", behavior=Behavior.INVALID_KEY))
        bad, _ = await post_json(
            session, fake.url + GENERATE, user_text("hi"), headers={"x-goog-api-key": "bad-1"}
        )
        good, _ = await post_json(
            session, fake.url + GENERATE, user_text("hi"), headers={"x-goog-api-key": "good-1"}
        )
        assert (bad, good) == (400, 200)

    async def test_by_model(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """A rule naming a model applies to that model only."""
        fake = await start_fake(one_rule(model="gemini-2.5-pro", behavior=Behavior.UNAVAILABLE))
        pro, _ = await post_json(session, fake.url + PRO_GENERATE, user_text("hi"))
        flash, _ = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert (pro, flash) == (503, 200)

    async def test_first_match_wins(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """With overlapping rules the first listed decides."""
        rules = (Rule(key_prefix="k", behavior=Behavior.SERVER_ERROR), Rule(behavior=Behavior.INVALID_KEY))
        fake = await start_fake(FakeConfig(rules=rules))
        status, _ = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert status == 500

    async def test_failed_requests_are_counted(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """Counts by key, key+model and method include failed requests."""
        fake = await start_fake(one_rule(key_prefix="bad", behavior=Behavior.RATE_BARE))
        for key in ("bad1", "bad1", "ok1"):
            await post_json(session, fake.url + GENERATE, user_text("hi"), headers={"x-goog-api-key": key})
        assert fake.state.requests_by_key == {"bad1": 2, "ok1": 1}
        assert fake.state.requests_by_key_model[("bad1", "gemini-2.5-flash")] == 2
        assert fake.state.requests_by_method["generateContent"] == 3


class TestQuotaEmulation:
    async def test_rpm_refuses_then_recovers(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """Over rpm in 60 s gives the per-minute 429 for that key and model until the window rolls."""
        now = [1_800_000_000.0]
        fake = await start_fake(one_rule(rpm=2), clock=lambda: now[0])
        url = fake.url + GENERATE
        statuses = [(await post_json(session, url, user_text("hi")))[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        _, body = await post_json(session, url, user_text("hi"))
        violation = body["error"]["details"][0]["violations"][0]
        assert violation["quotaId"] == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        assert violation["quotaValue"] == "2"
        other_key, _ = await post_json(session, url, user_text("hi"), headers={"x-goog-api-key": "k2"})
        other_model, _ = await post_json(session, fake.url + PRO_GENERATE, user_text("hi"))
        assert (other_key, other_model) == (200, 200)
        now[0] += 60
        assert (await post_json(session, url, user_text("hi")))[0] == 200

    async def test_rpd_gives_the_day_429(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """Over rpd in a day gives the per-day 429."""
        fake = await start_fake(one_rule(rpd=1), clock=lambda: 1_800_000_000.0)
        first, _ = await post_json(session, fake.url + GENERATE, user_text("hi"))
        second, body = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert (first, second) == (200, 429)
        assert (
            body["error"]["details"][0]["violations"][0]["quotaId"]
            == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        )

    async def test_count_tokens_uses_no_quota(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """countTokens does not spend the generation quota."""
        fake = await start_fake(one_rule(rpm=1))
        url = fake.url + "/v1beta/models/gemini-2.5-flash:countTokens"
        statuses = [(await post_json(session, url, user_text("hi")))[0] for _ in range(3)]
        assert statuses == [200, 200, 200]


class TestFlakyAndSlow:
    async def test_flaky_fails_one_in_every(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """flaky with every=3 answers 503 to the first of each three requests."""
        fake = await start_fake(one_rule(behavior=Behavior.FLAKY, every=3))
        statuses = [(await post_json(session, fake.url + GENERATE, user_text("hi")))[0] for _ in range(6)]
        assert statuses == [503, 200, 200, 503, 200, 200]

    async def test_slow_answers_after_the_delay(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """slow answers normally after delay_ms."""
        fake = await start_fake(one_rule(behavior=Behavior.SLOW, delay_ms=100))
        started = time.monotonic()
        status, _ = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert status == 200 and time.monotonic() - started >= 0.1

    async def test_slow_trips_a_client_timeout(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """A client timeout shorter than delay_ms fires (what timeout tests rely on)."""
        fake = await start_fake(one_rule(behavior=Behavior.SLOW, delay_ms=2000))
        with pytest.raises(TimeoutError):
            await session.post(
                fake.url + GENERATE,
                json=user_text("hi"),
                headers=KEY_HEADERS,
                timeout=aiohttp.ClientTimeout(total=0.1),
            )

    async def test_latency_applies_to_every_request(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """The scenario's latency_ms delays each answer."""
        fake = await start_fake(FakeConfig(latency_ms=50))
        started = time.monotonic()
        await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert time.monotonic() - started >= 0.05


class TestBrokenConnections:
    async def test_hang_up(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """hang_up closes the connection without an answer, and the request is still counted."""
        fake = await start_fake(one_rule(behavior=Behavior.HANG_UP))
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(fake.url + GENERATE, json=user_text("hi"), headers=KEY_HEADERS)
        assert fake.state.requests_by_key["k1"] == 1

    async def test_cut_stream_sse(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """cut_stream sends a first event without finishReason, then the connection drops."""
        fake = await start_fake(one_rule(behavior=Behavior.CUT_STREAM))
        async with session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("hi"), headers=KEY_HEADERS
        ) as response:
            assert response.status == 200
            first = await response.content.readuntil(b"\r\n\r\n")
            assert "finishReason" not in orjson.loads(first.removeprefix(b"data: "))["candidates"][0]
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()

    async def test_cut_stream_unary(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """cut_stream on a unary call closes the connection without a response."""
        fake = await start_fake(one_rule(behavior=Behavior.CUT_STREAM))
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await session.post(fake.url + GENERATE, json=user_text("hi"), headers=KEY_HEADERS)

    async def test_cut_stream_of_a_single_chunk_answer(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """Even a one-chunk answer is cut before its finishReason."""
        fake = await start_fake(FakeConfig(stream_chunks=1, rules=(Rule(behavior=Behavior.CUT_STREAM),)))
        async with session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("hi"), headers=KEY_HEADERS
        ) as response:
            first = await response.content.readuntil(b"\r\n\r\n")
            assert "finishReason" not in orjson.loads(first.removeprefix(b"data: "))["candidates"][0]
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()

    async def test_stream_error_sse(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """stream_error writes a first event, then a raw multi-line error object, then ends the body."""
        fake = await start_fake(one_rule(behavior=Behavior.STREAM_ERROR))
        async with session.post(
            fake.url + STREAM + "?alt=sse", json=user_text("hi"), headers=KEY_HEADERS
        ) as response:
            assert response.status == 200
            raw = await response.read()
        first, rest = raw.split(b"\r\n\r\n", 1)
        assert first.startswith(b"data: ")
        assert not rest.startswith(b"data: ") and rest.count(b"\n") > 2
        assert orjson.loads(rest)["error"]["code"] == 500

    async def test_stream_error_array(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """In the array form the error object is the array's last element."""
        fake = await start_fake(one_rule(behavior=Behavior.STREAM_ERROR))
        async with session.post(fake.url + STREAM, json=user_text("hi"), headers=KEY_HEADERS) as response:
            elements = orjson.loads(await response.read())
        assert "candidates" in elements[0]
        assert elements[-1]["error"]["status"] == "INTERNAL"

    async def test_stream_error_unary_is_500(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """stream_error on a unary call is a plain 500."""
        fake = await start_fake(one_rule(behavior=Behavior.STREAM_ERROR))
        status, _ = await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert status == 500
