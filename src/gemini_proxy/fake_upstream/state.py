"""The fake server's mutable state: its scenario, what it has seen and the quota it has counted.

Tests running the fake in-process read the counters and the recorded requests directly
and replace the rules between steps; out-of-process tests do the same through the
``/_fake/...`` control endpoints.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from gemini_proxy.fake_upstream.quota import QuotaExceeded, QuotaTracker
from gemini_proxy.fake_upstream.scenario import FakeConfig, Rule, first_matching_rule


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (``method`` is the HTTP method, ``api_method`` the RPC)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    key: str | None
    api_method: str


class FakeState:
    """Counters by key, by (key, model) and by API method, a bounded request log, and quota usage.

    ``open_streams`` is the number of streamed answers being written right now (a client
    that goes away mid-stream brings it back down).
    """

    def __init__(self, config: FakeConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._config = config if config is not None else FakeConfig()
        self.clock = clock
        self.requests_by_key: Counter[str] = Counter()
        self.requests_by_key_model: Counter[tuple[str, str]] = Counter()
        self.requests_by_method: Counter[str] = Counter()
        self.recorded: deque[RecordedRequest] = deque(maxlen=self._config.record_requests)
        self.quota = QuotaTracker()
        self._matches_by_rule: Counter[Rule] = Counter()
        self.open_streams = 0

    @property
    def config(self) -> FakeConfig:
        """The scenario in force; assigning a new one takes effect on the next request."""
        return self._config

    @config.setter
    def config(self, config: FakeConfig) -> None:
        if config.record_requests != self.recorded.maxlen:
            self.recorded = deque(self.recorded, maxlen=config.record_requests)
        self._config = config
        self._matches_by_rule.clear()

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Replace the rules, keeping the rest of the scenario (flaky counters start again)."""
        self.config = replace(self._config, rules=tuple(rules))

    def reset(self) -> None:
        """Forget counts, recorded requests, quota usage and flaky counters (the scenario stays)."""
        self.requests_by_key.clear()
        self.requests_by_key_model.clear()
        self.requests_by_method.clear()
        self.recorded.clear()
        self.quota.clear()
        self._matches_by_rule.clear()

    def count(self, api_method: str, key: str | None, model: str | None) -> None:
        """Count a request by method, key and (key, model); failed requests count too."""
        self.requests_by_method[api_method] += 1
        if key is not None:
            self.requests_by_key[key] += 1
            if model is not None:
                self.requests_by_key_model[(key, model)] += 1

    @property
    def recording(self) -> bool:
        """Whether requests are kept (``record_requests`` > 0)."""
        return bool(self.recorded.maxlen)

    def record(self, request: RecordedRequest) -> None:
        """Keep ``request`` in the bounded log (the oldest falls out)."""
        if self.recorded.maxlen:
            self.recorded.append(request)

    @contextmanager
    def stream_open(self) -> Iterator[None]:
        """Count a stream as open (``open_streams``) while the block runs, however it ends."""
        self.open_streams += 1
        try:
            yield
        finally:
            self.open_streams -= 1

    def rule_for(self, key: str, model: str | None) -> Rule | None:
        """The first rule matching this key and model, or None."""
        return first_matching_rule(self._config.rules, key, model)

    def flaky_turn_fails(self, rule: Rule) -> bool:
        """Whether this match of a flaky rule is the failing one: the first of every ``rule.every``."""
        count = self._matches_by_rule[rule]
        self._matches_by_rule[rule] = count + 1
        return count % rule.every == 0

    def use_quota(self, rule: Rule, key: str, model: str | None) -> QuotaExceeded | None:
        """Apply the rule's rpm/rpd to this (key, model) now; None when the request is admitted."""
        if rule.rpm is None and rule.rpd is None:
            return None
        return self.quota.admit(key, model or "", rpm=rule.rpm, rpd=rule.rpd, now=self.clock())

    def counts(self) -> dict[str, dict[str, int]]:
        """The counters as JSON-ready mappings (``by_key_model`` keys read ``"key|model"``)."""
        return {
            "by_key": dict(self.requests_by_key),
            "by_key_model": {f"{key}|{model}": n for (key, model), n in self.requests_by_key_model.items()},
            "by_method": dict(self.requests_by_method),
        }
