"""Key identity: ids, masks and KeySpec validation."""

from __future__ import annotations

import hashlib

import pytest

from gemini_proxy.keys.model import KeySpec, key_id, mask


class TestIdentity:
    """A key is named by a fingerprint or a mask, never by itself."""

    def test_key_id(self) -> None:
        """The id is the first 12 hex digits of the key's SHA-256."""
        raw = "AIzaSyExampleExampleExampleExample1234"
        assert key_id(raw) == hashlib.sha256(raw.encode()).hexdigest()[:12]
        assert KeySpec(raw).key_id == key_id(raw)

    @pytest.mark.parametrize(
        ("raw", "masked"),
        [
            ("AIzaSyExampleExampleExampleExamplewxyz", "AIza...wxyz"),
            ("abcdefghijklm", "abcd...jklm"),
            ("abcdefghijkl", "************"),
            ("short", "*****"),
        ],
    )
    def test_mask(self, raw: str, masked: str) -> None:
        """First four and last four characters; short keys are starred entirely."""
        assert mask(raw) == masked

    def test_repr_hides_secret(self) -> None:
        """A spec printed anywhere does not show the raw key."""
        raw = "AIzaSyExampleExampleExampleExample1234"
        assert raw not in repr(KeySpec(raw, name="n"))

    def test_display_name(self) -> None:
        """Without a name a key is shown masked."""
        assert KeySpec("AIzaSyExampleExampleExampleExample1234").display_name == "AIza...1234"

    @pytest.mark.parametrize(
        ("raw", "weight"),
        [("", 1.0), (" AIzaSyPadded ", 1.0), ("AIzaSyExample", 0.0), ("AIzaSyExample", -1.0)],
    )
    def test_invalid_spec(self, raw: str, weight: float) -> None:
        """Empty or padded keys and non-positive weights are refused."""
        with pytest.raises(ValueError, match=r"key|weight"):
            KeySpec(raw, weight=weight)
