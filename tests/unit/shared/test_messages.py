"""The changes instances publish, through their JSON form and back."""

from __future__ import annotations

import pytest

from gemini_proxy.shared.messages import (
    CooldownChange,
    MembershipChange,
    MessageError,
    RegisterChange,
    ResetChange,
    UsageChange,
    UsageEntry,
    decode_message,
    encode_cooldown_change,
    encode_membership,
    encode_register,
    encode_reset,
    encode_usage_body,
)
from gemini_proxy.store.records import CooldownRecord, KeyStateRecord


class TestRoundTrip:
    """Each kind of change decodes to what was encoded, with its origin."""

    def test_register_changes(self) -> None:
        """Disable and breaker registers, with their fields and stamps."""
        disable = RegisterChange(
            "disable", KeyStateRecord("k", disabled=True, disabled_reason="r", next_probe_at=9.5), 1.25
        )
        breaker = RegisterChange("breaker", KeyStateRecord("k", breaker_state="open", open_until=3.5), 2.0)
        for change in (disable, breaker):
            assert decode_message(encode_register("me", change)) == ("me", change)

    def test_cooldown_reset_and_membership(self) -> None:
        """Cooldowns (a model with a colon too), resets, adds and removals."""
        changes = [
            (
                encode_cooldown_change,
                CooldownChange(CooldownRecord("k", "m:1", 10.5, "q", per_day=True), 4.0),
            ),
            (encode_reset, ResetChange("k", 5.0)),
            (encode_membership, MembershipChange("add", "k")),
            (encode_membership, MembershipChange("remove", "k")),
        ]
        for encode, change in changes:
            assert decode_message(encode("me", change)) == ("me", change)  # type: ignore[operator]

    def test_usage_with_the_sequence_number_the_script_puts_in_front(self) -> None:
        """The usage script prepends ``"s"`` to the body built here."""
        entries = [UsageEntry("k", "gemini-2.5-flash", 2, 40)]
        body = encode_usage_body("me", 1764316800.0, entries)
        published = b'{"s":17,' + body[1:]
        assert decode_message(published) == ("me", UsageChange(17, 1764316800.0, tuple(entries)))


class TestBadMessages:
    """Anything out of shape raises MessageError, never something else."""

    @pytest.mark.parametrize(
        "raw",
        [
            b"not json",
            b"[]",
            b'{"o": "x"}',
            b'{"o": "x", "op": "what"}',
            b'{"o": "x", "op": "reset", "k": "k", "at": true}',
        ],
    )
    def test_is_refused(self, raw: bytes) -> None:
        """Not JSON, not an object, no kind, an unknown kind, a bool for a time."""
        with pytest.raises(MessageError):
            decode_message(raw)
