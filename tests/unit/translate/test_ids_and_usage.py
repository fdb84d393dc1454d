"""Completion ids and the OpenAI usage object (pure functions)."""

from __future__ import annotations

import random

import pytest

from gemini_proxy.translate.options import ID_LENGTH, random_id_source
from gemini_proxy.translate.usage import usage_to_openai


def test_ids_are_letters_and_digits_distinct_and_reproducible() -> None:
    first = random_id_source(random.Random(7))()
    source = random_id_source(random.Random(7))
    many = [source() for _ in range(5000)]
    assert many[0] == first  # the same seed gives the same ids (tests rely on it)
    assert all(len(i) == ID_LENGTH and i.isascii() and i.isalnum() for i in many)
    assert len(set(many)) == len(many)


def test_usage_counts_reasoning_inside_completion() -> None:
    usage = usage_to_openai(
        {
            "promptTokenCount": 10,
            "toolUsePromptTokenCount": 2,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 7,
            "totalTokenCount": 24,
            "cachedContentTokenCount": 4,
            "promptTokensDetails": [
                {"modality": "TEXT", "tokenCount": 9},
                {"modality": "AUDIO", "tokenCount": 3},
            ],
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 1}],
        }
    )
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (12, 12, 24)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 4, "audio_tokens": 3}
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 7
    assert usage["completion_tokens_details"]["audio_tokens"] == 1


@pytest.mark.parametrize(
    "metadata",
    [None, {}, {"promptTokenCount": True, "candidatesTokenCount": -3, "totalTokenCount": "9"}, []],
)
def test_missing_or_malformed_counts_are_zero(metadata: object) -> None:
    usage = usage_to_openai(metadata)  # type: ignore[arg-type]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (0, 0, 0)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}


def test_total_falls_back_to_the_sum() -> None:
    usage = usage_to_openai({"promptTokenCount": 3, "candidatesTokenCount": 4, "thoughtsTokenCount": 1})
    assert usage["total_tokens"] == 8
