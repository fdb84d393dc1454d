"""The thought signature cache and id embedding (D.10)."""

from __future__ import annotations

import pytest

from gemini_proxy.translate.signatures import SignatureCache, embed_signature, signature_from_id


class TestSignatureCache:
    """D.10 layer 2: bounded LRU with TTL, time passed in."""

    def test_put_then_get(self) -> None:
        """A stored entry is returned with its signature and name."""
        cache = SignatureCache()
        cache.put("c1", "sig", "f", now=0.0)
        entry = cache.get("c1", now=1.0)
        assert entry is not None
        assert (entry.signature, entry.name) == ("sig", "f")

    def test_expires_after_ttl(self) -> None:
        """An entry is gone once its TTL has passed, and is removed."""
        cache = SignatureCache(ttl_s=10)
        cache.put("c1", "sig", "f", now=0.0)
        assert cache.get("c1", now=9.9) is not None
        assert cache.get("c1", now=10.0) is None
        assert len(cache) == 0

    def test_least_recently_used_evicted(self) -> None:
        """At capacity the least recently used entry goes; a get refreshes recency."""
        cache = SignatureCache(max_entries=2)
        cache.put("a", "1", "f", now=0.0)
        cache.put("b", "2", "f", now=0.0)
        assert cache.get("a", now=0.0) is not None
        cache.put("c", "3", "f", now=0.0)
        assert cache.get("b", now=0.0) is None
        assert cache.get("a", now=0.0) is not None
        assert cache.get("c", now=0.0) is not None

    def test_total_size_bounded(self) -> None:
        """Large signatures evict old entries once the character budget is exceeded."""
        cache = SignatureCache(max_total_chars=100)
        cache.put("a", "x" * 60, "f", now=0.0)
        cache.put("b", "y" * 60, "f", now=0.0)
        assert cache.get("a", now=0.0) is None
        assert cache.get("b", now=0.0) is not None

    def test_overwrite_keeps_one_entry(self) -> None:
        """Putting an id twice replaces the entry."""
        cache = SignatureCache()
        cache.put("a", "1", "f", now=0.0)
        cache.put("a", "2", "g", now=0.0)
        entry = cache.get("a", now=0.0)
        assert entry is not None
        assert (len(cache), entry.signature, entry.name) == (1, "2", "g")

    @pytest.mark.parametrize("kwargs", [{"max_entries": 0}, {"ttl_s": 0}, {"max_total_chars": 0}])
    def test_rejects_nonsense_limits(self, kwargs: dict[str, float]) -> None:
        """Limits must be positive."""
        with pytest.raises(ValueError, match="SignatureCache"):
            SignatureCache(**kwargs)  # type: ignore[arg-type]


class TestIdEmbedding:
    """D.10 layer 3: signatures carried in the tool call id."""

    def test_round_trip(self) -> None:
        """An embedded signature is recovered exactly, base64 characters included."""
        assert signature_from_id(embed_signature("call_abc", "a+b/c==")) == "a+b/c=="

    @pytest.mark.parametrize("call_id", ["call_abc", "call___thought__", ""])
    def test_plain_ids_have_none(self, call_id: str) -> None:
        """Ids without an embedded signature yield None."""
        assert signature_from_id(call_id) is None
