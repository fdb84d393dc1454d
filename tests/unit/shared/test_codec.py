"""Shared-state values to and from the strings Redis holds, and the sealing of raw keys."""

from __future__ import annotations

import pytest

from gemini_proxy.shared.cipher import SecretCipher, UnreadableSecret
from gemini_proxy.shared.codec import (
    DISABLE_FIELDS,
    KeyStamps,
    decode_added,
    decode_cooldown,
    decode_key_state,
    encode_added,
    encode_cooldown,
    encode_key_state,
)
from gemini_proxy.shared.layout import RedisLayout, parse_usage_field, usage_field
from gemini_proxy.store.records import AddedKeyRecord, CooldownRecord, KeyStateRecord

RAW_KEY = "AIzaSyC0dec7estK3yabcdefghijklmnopqrstu"
FULL = KeyStateRecord(
    key_id="abc123def456",
    disabled=True,
    disabled_reason="API_KEY_INVALID",
    disabled_at=1.5,
    next_probe_at=0.1 + 0.2,
    probe_failures=2,
    breaker_state="open",
    breaker_level=3,
    consecutive_failures=4,
    open_until=1e9 + 0.123456789,
    health=0.25,
    requests=12,
    failures=3,
    last_error="http_503",
    last_error_at=7.0,
    updated_at=8.0,
)


class TestKeyState:
    """A key's record as a hash, fields and register stamps."""

    def test_every_field_round_trips_exactly(self) -> None:
        """Floats come back bit for bit, bools and ints as they were."""
        fields, deleted = encode_key_state(FULL)
        record, stamps = decode_key_state(FULL.key_id, {k.encode(): v.encode() for k, v in fields.items()})
        assert record == FULL and deleted == [] and stamps == KeyStamps()

    def test_a_register_writes_its_fields_and_deletes_its_empty_ones(self) -> None:
        """An enabled key's disable register sets the flag and deletes reason and times."""
        fields, deleted = encode_key_state(KeyStateRecord("k"), DISABLE_FIELDS)
        assert fields == {"disabled": "0", "probe_failures": "0"}
        assert deleted == ["disabled_reason", "disabled_at", "next_probe_at"]

    def test_stamps_are_read_apart_from_the_record(self) -> None:
        """status_at, breaker_at and reset_at become the key's stamps."""
        record, stamps = decode_key_state("k", {"disabled": "1", "status_at": "5.5", "reset_at": "2.0"})
        assert record == KeyStateRecord("k", disabled=True)
        assert stamps == KeyStamps(status_at=5.5, reset_at=2.0)

    @pytest.mark.parametrize(
        ("fields", "problem"),
        [({"disabled": "yes"}, "expected 0 or 1"), ({"requests": "many"}, "invalid literal")],
    )
    def test_a_value_out_of_shape_raises(self, fields: dict[str, str], problem: str) -> None:
        """A bool that is not 0 or 1, or a number that is not one, is refused."""
        with pytest.raises(ValueError, match=problem):
            decode_key_state("k", fields)


class TestCooldownAndLayout:
    """Cooldown values and usage field names."""

    def test_cooldown_round_trips_with_its_set_time(self) -> None:
        """A cooldown comes back with when it was set."""
        record = CooldownRecord("k", "gemini-2.5-pro", 123.456, "per_day_quota", per_day=True)
        assert decode_cooldown("k", "gemini-2.5-pro", encode_cooldown(record, 99.5)) == (record, 99.5)

    def test_usage_fields_keep_models_with_colons(self) -> None:
        """A model name may hold colons; the key id and the counter kind are found around it."""
        assert parse_usage_field(usage_field("k1", "tunedModels/a:b", "r")) == ("k1", "tunedModels/a:b", "r")
        assert parse_usage_field("k1:model:x") is None

    def test_usage_hash_names_round_trip(self) -> None:
        """A usage hash name gives back its window and start; another prefix's name gives nothing."""
        layout = RedisLayout("pool:a")
        assert layout.parse_usage(layout.usage("day", 1764316800.0)) == ("day", 1764316800.0)
        assert layout.parse_usage("pool:b:usage:day:1.0") is None


class TestAddedKeys:
    """The raw key of an added key is sealed: encrypted with a secret, as is without."""

    def test_with_a_secret_the_raw_key_is_encrypted_and_opens_again(self) -> None:
        """The stored JSON holds no raw key; the same secret opens it to the same record."""
        record = AddedKeyRecord(
            "id", RAW_KEY, name="n", project="p", weight=2.0, limits={"rpm": 5}, added_at=1.0
        )
        stored = encode_added(record, SecretCipher("s3cret-s3cret-s3cret"))
        assert RAW_KEY.encode() not in stored and b"secret_enc" in stored
        assert decode_added("id", stored, SecretCipher("s3cret-s3cret-s3cret")) == record

    def test_another_secret_or_none_cannot_open_it(self) -> None:
        """A different secret, or none, raises UnreadableSecret."""
        stored = encode_added(AddedKeyRecord("id", RAW_KEY), SecretCipher("first-secret-value"))
        for cipher in (SecretCipher("second-secret-value"), SecretCipher(None)):
            with pytest.raises(UnreadableSecret):
                decode_added("id", stored, cipher)

    def test_without_a_secret_the_raw_key_is_stored_and_any_instance_reads_it(self) -> None:
        """Without a secret the raw key is stored as is, readable with or without one."""
        record = AddedKeyRecord("id", RAW_KEY)
        stored = encode_added(record, SecretCipher(None))
        assert RAW_KEY.encode() in stored
        assert decode_added("id", stored, SecretCipher("a-secret-set-later")) == record
