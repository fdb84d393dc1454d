"""What happened to one client request upstream: read by the access log and metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

from gemini_proxy.upstream.usage import TokenUsage


@dataclass(slots=True)
class CallTrace:
    """Filled in by the route and the dispatch loop while a request is served."""

    surface: str = "ops"
    request_id: str = ""
    model: str | None = None
    token_name: str | None = None
    keys_tried: list[str] = field(default_factory=list)
    upstream_status: int | None = None
    outcome: str | None = None
    usage: TokenUsage | None = None
    stream: bool = False
    user: str | None = None  # the end user an OpenAI client named (``user``); logged, never sent upstream

    @property
    def attempts(self) -> int:
        return len(self.keys_tried)
