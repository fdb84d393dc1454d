"""The real API's request checks: contents, parts, roles, candidates and Gemini 3 signatures."""

from __future__ import annotations

from typing import Any

import pytest

from gemini_proxy.fake_upstream.validation import (
    check_candidate_count,
    check_contents,
    check_thought_signatures,
    requires_thought_signatures,
)

CALL = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
RESULT = {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}


def history(model_parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """user text → model turn with ``model_parts`` → user function response."""
    return [
        {"role": "user", "parts": [{"text": "weather?"}]},
        {"role": "model", "parts": model_parts},
        {"role": "user", "parts": [RESULT]},
    ]


class TestContents:
    @pytest.mark.parametrize(
        ("contents", "message"),
        [
            (None, "contents is not specified"),
            ([], "contents is not specified"),
            ([{"role": "user", "parts": []}], "contents.parts must not be empty"),
            ([{"role": "user"}], "contents.parts must not be empty"),
            ([{"role": "user", "parts": [{}]}], "required oneof field 'data'"),
            ([{"role": "user", "parts": [{"text": ""}]}], "required oneof field 'data'"),
            ([{"role": "assistant", "parts": [{"text": "hi"}]}], "Please use a valid role: user, model."),
            (
                [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": "sunny"}}]}],
                "protobuf.Struct",
            ),
            (
                [{"role": "model", "parts": [{"function_call": {"name": "f", "args": "[]"}}]}],
                "function_call.args",
            ),
        ],
    )
    def test_bad_contents_are_400(self, contents: Any, message: str) -> None:
        """Each malformed contents gets a 400 INVALID_ARGUMENT with the real API's wording."""
        error = check_contents(contents)
        assert error is not None
        assert error.status == 400
        assert error.body["error"]["status"] == "INVALID_ARGUMENT"
        assert message in error.message

    @pytest.mark.parametrize(
        "contents",
        [
            [{"parts": [{"text": "no role is fine"}]}],
            [{"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": "iVBORw=="}}]}],
            history([{"text": "", "thoughtSignature": "c2ln"}, CALL]),
        ],
    )
    def test_good_contents_pass(self, contents: Any) -> None:
        """Role-less turns, snake_case media parts and signature-only parts are accepted."""
        assert check_contents(contents) is None

    def test_too_many_candidates(self) -> None:
        """More than 8 candidates is a 400; 8 is fine."""
        assert check_candidate_count({"candidateCount": 9}) is not None
        assert check_candidate_count({"candidate_count": 8}) is None


class TestThoughtSignatures:
    def test_only_gemini_3_requires_them(self) -> None:
        """Gemini 3 models check signatures; 2.5 models do not."""
        assert requires_thought_signatures("gemini-3-pro-preview")
        assert not requires_thought_signatures("gemini-2.5-flash")

    def test_missing_signature_is_400(self) -> None:
        """A model turn whose first call lacks a signature gets the thought_signature 400."""
        error = check_thought_signatures(history([CALL]))
        assert error is not None and error.status == 400
        assert error.message.startswith("Function call is missing a thought_signature in functionCall parts.")
        assert "get_weather" in error.message

    @pytest.mark.parametrize("signature_field", ["thoughtSignature", "thought_signature"])
    def test_signed_first_call_passes(self, signature_field: str) -> None:
        """A signature on the first call (either spelling) satisfies the check; later calls need none."""
        assert check_thought_signatures(history([{**CALL, signature_field: "c2ln"}, CALL])) is None

    def test_dummy_signature_passes(self) -> None:
        """Google's documented skip value is accepted."""
        assert (
            check_thought_signatures(
                history([{**CALL, "thoughtSignature": "skip_thought_signature_validator"}])
            )
            is None
        )

    def test_signature_on_a_later_call_only_fails(self) -> None:
        """Only the first call of the turn counts: a signature on the second does not help."""
        assert check_thought_signatures(history([CALL, {**CALL, "thoughtSignature": "c2ln"}])) is not None

    def test_text_only_history_passes(self) -> None:
        """Model turns without calls need no signature."""
        assert check_thought_signatures(history([{"text": "sure"}])) is None
