"""The log redactor: configured secrets and Gemini-shaped keys never survive rendering."""

from __future__ import annotations

import io

import orjson
import pytest

from gemini_proxy.observability.logging import Redactor, build_logger, mask_secret

TOKEN = "client-token-0123456789"
ODD = 'odd"secret\\with spaces!'
KEY = "AIzaSyREDACT0abcdefghijklmnopqrstuvwxyz"


class TestRedactor:
    @pytest.mark.parametrize(
        ("text", "hidden"),
        [
            (f"token={TOKEN}&x=1", TOKEN),
            (f"/v1beta/models/{KEY}:generateContent", KEY),
            (
                "unknown key AIzaSyUNCONFIGURED0123456789abcdefghijk in text",
                "AIzaSyUNCONFIGURED0123456789abcdefghijk",
            ),
            (f"odd: {ODD}", ODD),
        ],
    )
    def test_secret_is_masked(self, text: str, hidden: str) -> None:
        """Configured tokens, configured keys, any Gemini-shaped key and odd secrets are masked."""
        redacted = Redactor([TOKEN, KEY, ODD]).redact(text)
        assert hidden not in redacted

    def test_ordinary_text_is_untouched(self) -> None:
        """Text without secrets comes back as it was."""
        text = "/v1beta/models/gemini-2.5-flash:generateContent client-tokens"
        assert Redactor([TOKEN, KEY]).redact(text) == text

    def test_secret_added_later_is_masked(self) -> None:
        """update() adds secrets (keys added at run time)."""
        redactor = Redactor([TOKEN])
        redactor.update(["late-secret-token-42"])
        assert "late-secret-token-42" not in redactor.redact("x late-secret-token-42 y")

    @pytest.mark.parametrize("count", [1, 4, 5, 300])
    def test_every_secret_of_few_or_many_is_masked(self, count: int) -> None:
        """With a few secrets or many (the prefix filter changes form past four), each one
        is masked wherever it sits, and text holding none is untouched."""
        secrets = [f"{chr(97 + i % 26)}custom-issued.{i:04d}_value" for i in range(count)]
        redactor = Redactor(secrets[:1])
        redactor.update(secrets[1:])  # grows from one secret to all of them
        for secret in secrets:
            for text in (secret, f"route=/x/{secret}/y", f'{{"user":"{secret}"}}'):
                assert secret not in redactor.redact(text)
        plain = '{"route":"/v1beta/models/gemini-2.5-flash:generateContent","user":"custom-issued"}'
        assert redactor.redact(plain) == plain

    def test_mask_shape(self) -> None:
        """Long secrets keep 4 characters at each end; short ones are starred."""
        assert mask_secret(KEY) == f"{KEY[:4]}...{KEY[-4:]}"
        assert mask_secret("short") == "*****"


class TestLoggerRedactsEverything:
    def test_nested_values_and_exceptions(self) -> None:
        """Secrets in nested values, JSON-escaped odd secrets and exception text are masked."""
        stream = io.StringIO()
        log = build_logger(redactor=Redactor([TOKEN, KEY, ODD]), stream=stream)
        log.info("event", nested={"a": [TOKEN, {"k": KEY}]}, odd=ODD, error=ValueError(f"bad {TOKEN}"))
        line = stream.getvalue()
        assert orjson.loads(line)["event"] == "event"
        for secret in (TOKEN, KEY, ODD, orjson.dumps(ODD).decode()[1:-1]):
            assert secret not in line
