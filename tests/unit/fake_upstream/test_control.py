"""The fake's state and its control endpoints: counts, recorded requests, rules and reset."""

from __future__ import annotations

import aiohttp
import orjson

from gemini_proxy.fake_upstream.app import FAKE_STATE, create_fake_app
from gemini_proxy.fake_upstream.runner import RunningFake
from gemini_proxy.fake_upstream.scenario import Behavior, FakeConfig, Rule
from gemini_proxy.fake_upstream.state import FakeState
from tests.unit.fake_upstream.conftest import GENERATE, FakeStarter, get_json, post_json, user_text


class TestRecording:
    async def test_records_what_arrived(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """Each request is kept with method, raw path and query, headers, body bytes, key and API method."""
        body = b'{"contents": [{"parts": [{"text": "hi"}]}]}'
        await post_json(
            session, fake.url + GENERATE + "?key=qk&$fields=candidates", body, headers={"X-Extra": "1"}
        )
        recorded = fake.state.recorded[-1]
        assert (recorded.method, recorded.path) == ("POST", GENERATE)
        assert recorded.query == "key=qk&$fields=candidates"
        assert recorded.headers["X-Extra"] == "1"
        assert recorded.body == body
        assert (recorded.key, recorded.api_method) == ("qk", "generateContent")

    async def test_log_is_bounded(self, start_fake: FakeStarter, session: aiohttp.ClientSession) -> None:
        """Only the last record_requests requests are kept; counting goes on."""
        fake = await start_fake(FakeConfig(record_requests=2))
        for word in ("one", "two", "three"):
            await post_json(session, fake.url + GENERATE, user_text(word))
        assert [orjson.loads(r.body)["contents"][0]["parts"][0]["text"] for r in fake.state.recorded] == [
            "two",
            "three",
        ]
        assert fake.state.requests_by_key["k1"] == 3

    async def test_recording_can_be_off(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """record_requests=0 keeps nothing."""
        fake = await start_fake(FakeConfig(record_requests=0))
        await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert not fake.state.recording and len(fake.state.recorded) == 0


class TestStateInProcess:
    async def test_set_rules_applies_to_the_next_request(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """Rules replaced on the state take effect at once."""
        fake.state.set_rules([Rule(behavior=Behavior.UNAVAILABLE)])
        assert (await post_json(session, fake.url + GENERATE, user_text("hi")))[0] == 503
        fake.state.set_rules([])
        assert (await post_json(session, fake.url + GENERATE, user_text("hi")))[0] == 200

    async def test_reset_forgets_counts_and_quota(
        self, start_fake: FakeStarter, session: aiohttp.ClientSession
    ) -> None:
        """reset() clears counters, recorded requests and quota usage but keeps the rules."""
        fake = await start_fake(FakeConfig(rules=(Rule(rpm=1),)))
        await post_json(session, fake.url + GENERATE, user_text("hi"))
        assert (await post_json(session, fake.url + GENERATE, user_text("hi")))[0] == 429
        fake.state.reset()
        assert (
            not fake.state.requests_by_key and not fake.state.recorded and not fake.state.requests_by_method
        )
        assert (await post_json(session, fake.url + GENERATE, user_text("hi")))[0] == 200
        assert fake.state.config.rules == (Rule(rpm=1),)

    def test_given_state_adopts_the_config(self) -> None:
        """create_fake_app stores a given state under FAKE_STATE and gives it the config."""
        state = FakeState()
        config = FakeConfig(stream_chunks=9, record_requests=5)
        app = create_fake_app(config, state)
        assert app[FAKE_STATE] is state
        assert state.config == config and state.recorded.maxlen == 5


class TestControlEndpoints:
    async def test_counts(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """GET /_fake/counts reports by key, by 'key|model' and by method, and is not counted itself."""
        await post_json(session, fake.url + GENERATE, user_text("hi"))
        await get_json(session, fake.url + "/v1beta/models")
        status, counts = await get_json(session, fake.url + "/_fake/counts")
        assert status == 200
        assert counts == {
            "by_key": {"k1": 2},
            "by_key_model": {"k1|gemini-2.5-flash": 1},
            "by_method": {"generateContent": 1, "models.list": 1},
        }

    async def test_replace_rules(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """POST /_fake/rules replaces the rules for out-of-process tests."""
        rules = {"rules": [{"key_prefix": "k", "behavior": "rate_bare"}]}
        status, answer = await post_json(session, fake.url + "/_fake/rules", rules, headers={})
        assert (status, answer) == (200, {"rules": 1})
        assert (await post_json(session, fake.url + GENERATE, user_text("hi")))[0] == 429

    async def test_bad_rules_are_400_and_change_nothing(
        self, fake: RunningFake, session: aiohttp.ClientSession
    ) -> None:
        """An invalid rule list is refused with the field named, and the old rules stay."""
        status, answer = await post_json(
            session, fake.url + "/_fake/rules", {"rules": [{"behavior": "nope"}]}, headers={}
        )
        assert status == 400 and "rules[0].behavior" in answer["error"]
        status, _ = await post_json(session, fake.url + "/_fake/rules", b"[", headers={})
        assert status == 400
        assert fake.state.config.rules == ()

    async def test_reset(self, fake: RunningFake, session: aiohttp.ClientSession) -> None:
        """POST /_fake/reset empties the counts."""
        await post_json(session, fake.url + GENERATE, user_text("hi"))
        status, _ = await post_json(session, fake.url + "/_fake/reset", {}, headers={})
        assert status == 200
        assert (await get_json(session, fake.url + "/_fake/counts"))[1]["by_key"] == {}
