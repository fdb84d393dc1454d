"""Gemini ``logprobsResult`` -> OpenAI ``choices[k].logprobs`` (protocol.md D.7)."""

from __future__ import annotations

from typing import Any


def logprobs_to_openai(result: Any) -> dict[str, Any] | None:
    """``{"content": [...], "refusal": None}`` from a candidate's ``logprobsResult``, or ``None``.

    ``chosenCandidates[i]`` is the sampled token; ``topCandidates[i].candidates`` its
    alternatives at the same position.
    """
    if not isinstance(result, dict):
        return None
    chosen = result.get("chosenCandidates")
    if not isinstance(chosen, list):
        return None
    tops = result.get("topCandidates")
    tops = tops if isinstance(tops, list) else []
    content = []
    for position, entry in enumerate(chosen):
        if not isinstance(entry, dict):
            continue
        top_entry = tops[position] if position < len(tops) and isinstance(tops[position], dict) else {}
        alternatives = top_entry.get("candidates")
        alternatives = alternatives if isinstance(alternatives, list) else []
        content.append(
            {
                **_token(entry),
                "top_logprobs": [_token(alt) for alt in alternatives if isinstance(alt, dict)],
            }
        )
    return {"content": content, "refusal": None}


def _token(entry: dict[str, Any]) -> dict[str, Any]:
    token = entry.get("token")
    token = token if isinstance(token, str) else ""
    logprob = entry.get("logProbability")
    if not isinstance(logprob, int | float) or isinstance(logprob, bool):
        logprob = 0.0
    return {"token": token, "logprob": float(logprob), "bytes": list(token.encode("utf-8"))}
