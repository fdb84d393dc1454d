"""Scenario rules, their matching, and loading them from YAML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gemini_proxy.fake_upstream.scenario import (
    DEFAULT_MODELS,
    Behavior,
    FakeConfig,
    Rule,
    first_matching_rule,
    load_scenario,
    rules_from_list,
)


class TestRuleMatching:
    @pytest.mark.parametrize(
        ("rule", "key", "model", "matches"),
        [
            (Rule(), "anything", None, True),
            (Rule(key_prefix="bad-"), "bad-1", "gemini-2.5-flash", True),
            (Rule(key_prefix="bad-"), "good-1", "gemini-2.5-flash", False),
            (Rule(model="gemini-2.5-pro"), "k", "gemini-2.5-pro", True),
            (Rule(model="gemini-2.5-pro"), "k", "gemini-2.5-flash", False),
            (Rule(model="gemini-2.5-pro"), "k", None, False),
            (Rule(key_prefix="k", model="gemini-2.5-pro"), "x", "gemini-2.5-pro", False),
        ],
    )
    def test_prefix_and_model(self, rule: Rule, key: str, model: str | None, matches: bool) -> None:
        """A rule matches on key prefix and, when it names one, on the exact model."""
        assert rule.matches(key, model) is matches

    def test_first_match_wins(self) -> None:
        """Rules are tried in order; the first that matches is the one applied."""
        rules = [Rule(key_prefix="a", behavior=Behavior.SLOW), Rule(behavior=Behavior.HANG_UP)]
        assert first_matching_rule(rules, "abc", None) == rules[0]
        assert first_matching_rule(rules, "xyz", None) == rules[1]

    def test_no_match_is_none(self) -> None:
        """No matching rule gives None, which the server treats as ok."""
        assert first_matching_rule([Rule(key_prefix="a")], "b", None) is None

    def test_defaults(self) -> None:
        """The defaults: behavior ok, a 30 s retry delay, every request, no quotas, the eight models."""
        rule = Rule()
        assert (rule.behavior, rule.retry_delay_s, rule.every, rule.rpm, rule.rpd) == (
            Behavior.OK,
            30.0,
            1,
            None,
            None,
        )
        assert FakeConfig().models == DEFAULT_MODELS
        assert len(DEFAULT_MODELS) == 8


class TestRulesFromList:
    def test_builds_rules(self) -> None:
        """Mappings become rules with behaviours parsed from their names."""
        rules = rules_from_list(
            [{"key_prefix": "k", "behavior": "rate_minute", "retry_delay_s": 5, "rpm": 2}]
        )
        assert rules == (Rule(key_prefix="k", behavior=Behavior.RATE_MINUTE, retry_delay_s=5.0, rpm=2),)

    @pytest.mark.parametrize(
        ("data", "names"),
        [
            ([{"behavior": "explode"}], "rules[0].behavior"),
            ([{"every": 0}], "rules[0].every"),
            ([{"rpm": "ten"}], "rules[0].rpm"),
            ([{}, {"delay_ms": -1}], "rules[1].delay_ms"),
            ([{"colour": "red"}], "rules[0].colour"),
            ([{"model": 3}], "rules[0].model"),
            ({"behavior": "ok"}, "rules"),
        ],
    )
    def test_bad_rules_name_the_field(self, data: object, names: str) -> None:
        """A bad rule raises ValueError naming the offending field."""
        with pytest.raises(ValueError, match=re.escape(names)):
            rules_from_list(data)


class TestLoadScenario:
    def test_loads_a_full_file(self, tmp_path: Path) -> None:
        """Pacing, latency and rules come from the YAML file."""
        path = tmp_path / "scenario.yaml"
        path.write_text(
            "latency_ms: 5\nstream_chunks: 7\nchunk_delay_ms: 2.5\n"
            "rules:\n  - {key_prefix: bad, behavior: invalid_key}\n"
            "  - {model: gemini-2.5-pro, behavior: flaky, every: 3}\n"
        )
        config = load_scenario(path)
        assert (config.latency_ms, config.stream_chunks, config.chunk_delay_ms) == (5.0, 7, 2.5)
        assert config.rules == (
            Rule(key_prefix="bad", behavior=Behavior.INVALID_KEY),
            Rule(model="gemini-2.5-pro", behavior=Behavior.FLAKY, every=3),
        )

    def test_empty_file_is_the_default(self, tmp_path: Path) -> None:
        """An empty scenario file means the default configuration."""
        path = tmp_path / "empty.yaml"
        path.write_text("")
        assert load_scenario(path) == FakeConfig()

    @pytest.mark.parametrize(
        ("text", "names"),
        [
            ("stream_chunks: 0\n", "stream_chunks"),
            ("latency_ms: slow\n", "latency_ms"),
            ("rules:\n  - {behavior: teleport}\n", "rules[0].behavior"),
            ("speed: 3\n", "speed: unknown field"),
            ("- just a list\n", "top level"),
            ("rules: [unclosed\n", "not valid YAML"),
            ("models: []\n", "models"),
        ],
    )
    def test_bad_file_names_the_file_and_field(self, tmp_path: Path, text: str, names: str) -> None:
        """A bad scenario raises ValueError naming the file and what is wrong."""
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ValueError, match=r"bad\.yaml") as raised:
            load_scenario(path)
        assert names in str(raised.value)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing scenario file raises ValueError naming the path."""
        with pytest.raises(ValueError, match=r"missing\.yaml"):
            load_scenario(tmp_path / "missing.yaml")
