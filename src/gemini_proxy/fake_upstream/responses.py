"""Planned answers as Gemini wire objects: one GenerateContentResponse, or stream chunks.

Shapes follow protocol.md A.4/A.5: sparse fields (zeros left out), ``usageMetadata`` in
every chunk with running counts, ``finishReason`` only on the last chunk, parts as
deltas, each functionCall complete in one chunk, and for Gemini 3 a thoughtSignature on
the first functionCall of a step (or on the text: on the text part of a unary answer, on
an empty text part in the last stream chunk).
"""

from __future__ import annotations

from typing import Any

from gemini_proxy.fake_upstream.answer import Answer, CandidateAnswer

_HARM_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
_BLOCKING_CATEGORY = "HARM_CATEGORY_DANGEROUS_CONTENT"


def safety_ratings(blocked: bool) -> list[dict[str, Any]]:
    """A rating per harm category; when ``blocked``, the dangerous-content one is HIGH and blocked."""
    ratings: list[dict[str, Any]] = []
    for category in _HARM_CATEGORIES:
        if blocked and category == _BLOCKING_CATEGORY:
            ratings.append({"category": category, "probability": "HIGH", "blocked": True})
        else:
            ratings.append({"category": category, "probability": "NEGLIGIBLE"})
    return ratings


def usage_metadata(prompt: int, candidates: int, thoughts: int) -> dict[str, Any]:
    """``usageMetadata`` with zero counts left out; total = prompt + candidates + thoughts."""
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if candidates:
        usage["candidatesTokenCount"] = candidates
    usage["totalTokenCount"] = prompt + candidates + thoughts
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    return usage


def _envelope(answer: Answer, body: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    body["usageMetadata"] = usage
    body["modelVersion"] = answer.model
    body["responseId"] = answer.response_id
    return body


def _prompt_blocked(answer: Answer) -> dict[str, Any]:
    feedback = {"blockReason": "SAFETY", "safetyRatings": safety_ratings(blocked=True)}
    return _envelope(answer, {"promptFeedback": feedback}, usage_metadata(answer.prompt_tokens, 0, 0))


def _call_parts(candidate: CandidateAnswer, signature: str | None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for position, call in enumerate(candidate.function_calls):
        part: dict[str, Any] = {"functionCall": call}
        if position == 0 and signature is not None:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _candidate(index: int, parts: list[dict[str, Any]], finish_reason: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
    candidate: dict[str, Any] = {"content": content}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    candidate["index"] = index
    return candidate


def _blocked_candidate(candidate: CandidateAnswer) -> dict[str, Any]:
    return {"finishReason": "SAFETY", "index": candidate.index, "safetyRatings": safety_ratings(blocked=True)}


def _thought_parts(candidate: CandidateAnswer) -> list[dict[str, Any]]:
    return [{"text": candidate.thought, "thought": True}] if candidate.thought is not None else []


def generate_response(answer: Answer) -> dict[str, Any]:
    """The unary ``generateContent`` response for ``answer``."""
    if answer.prompt_blocked:
        return _prompt_blocked(answer)
    candidates = []
    for candidate in answer.candidates:
        if candidate.output_blocked:
            candidates.append(_blocked_candidate(candidate))
            continue
        parts = _thought_parts(candidate)
        if candidate.text:
            text_part: dict[str, Any] = {"text": candidate.text}
            if answer.signature is not None and not candidate.function_calls:
                text_part["thoughtSignature"] = answer.signature
            parts.append(text_part)
        parts.extend(_call_parts(candidate, answer.signature))
        candidates.append(_candidate(candidate.index, parts, candidate.finish_reason))
    usage = usage_metadata(answer.prompt_tokens, answer.candidates_tokens, answer.thoughts_tokens)
    return _envelope(answer, {"candidates": candidates}, usage)


def split_text(text: str, pieces: int) -> list[str]:
    """``text`` cut into ``pieces`` consecutive slices of near-equal length (some may be empty)."""
    length = len(text)
    return [text[length * i // pieces : length * (i + 1) // pieces] for i in range(pieces)]


def _chunk_count(answer: Answer, requested: int) -> int:
    if any(c.text for c in answer.candidates):
        return max(1, requested)
    return 1


def stream_chunks(answer: Answer, requested_chunks: int) -> list[dict[str, Any]]:
    """The ``streamGenerateContent`` chunks: text split ``requested_chunks`` ways, calls whole."""
    if answer.prompt_blocked:
        return [_prompt_blocked(answer)]
    count = _chunk_count(answer, requested_chunks)
    pieces = {c.index: split_text(c.text, count) for c in answer.candidates}
    chunks = []
    for position in range(count):
        last = position == count - 1
        candidates = []
        for candidate in answer.candidates:
            if candidate.output_blocked:
                candidates.append(_blocked_candidate(candidate))
                continue
            parts = _thought_parts(candidate) if position == 0 else []
            if candidate.text:
                parts.append({"text": pieces[candidate.index][position]})
            if last:
                parts.extend(_call_parts(candidate, answer.signature))
                if answer.signature is not None and candidate.text:
                    parts.append({"text": "", "thoughtSignature": answer.signature})
            candidates.append(_candidate(candidate.index, parts, candidate.finish_reason if last else None))
        shown = answer.candidates_tokens if last else answer.candidates_tokens * (position + 1) // count
        usage = usage_metadata(answer.prompt_tokens, shown, answer.thoughts_tokens)
        chunks.append(_envelope(answer, {"candidates": candidates}, usage))
    return chunks
