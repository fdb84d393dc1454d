"""The Lua scripts that change the shared state atomically, each publishing its change.

Each is sent as ``EVALSHA`` (its SHA-1); the publisher loads the scripts when Redis says
it does not know one (a restarted or flushed Redis). Every write is conditional, so
instances that push changes late (after an outage) in any order end at the same state:

- a register write (``SET_REGISTER``) lands only if its stamp is not older than the
  stored one (the later change wins);
- a cooldown (``SET_COOLDOWN``) lands only if it ends later than the stored one and was
  set after the key's last reset;
- a reset (``RESET``) clears the registers older than it and the cooldowns set before it;
- usage (``ADD_USAGE``) is added with ``HINCRBY`` and numbered from ``P:seq``, so a reader
  can tell which increments a snapshot it took already holds;
- ``RAISE_COUNTERS`` lifts counters to at least given values (re-seeding a Redis that
  lost its data, where several instances hold the same counts).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and the SHA-1 Redis knows it by."""

    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.text.encode(), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha", digest)


SET_REGISTER: Final = Script("""
-- KEYS: key hash, keys set
-- ARGV: stamp field, stamp, channel, message ('' = none), key id, n, n field/value pairs, fields to delete
local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if stored > tonumber(ARGV[2]) then return 0 end
local n = tonumber(ARGV[6])
local pairs_ = {ARGV[1], ARGV[2]}
for i = 7, 6 + 2 * n do pairs_[#pairs_ + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(pairs_))
for i = 7 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
redis.call('SADD', KEYS[2], ARGV[5])
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
""")

SET_COOLDOWN: Final = Script("""
-- KEYS: cooldown hash, key hash, keys set
-- ARGV: model, until, set at, value, channel, message ('' = none), key id
local reset_at = tonumber(redis.call('HGET', KEYS[2], 'reset_at') or '0')
if reset_at > tonumber(ARGV[3]) then return 0 end
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if stored then
  local ok, old = pcall(cjson.decode, stored)
  if ok and type(old) == 'table' and tonumber(old['until']) and tonumber(old['until']) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('SADD', KEYS[3], ARGV[7])
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return 1
""")

RESET: Final = Script("""
-- KEYS: key hash, cooldown hash, keys set
-- ARGV: stamp, channel, message, key id
local stamp = tonumber(ARGV[1])
local function stamp_of(name) return tonumber(redis.call('HGET', KEYS[1], name) or '0') end
if stamp >= stamp_of('status_at') then
  redis.call('HSET', KEYS[1], 'status_at', ARGV[1], 'disabled', '0', 'probe_failures', '0')
  redis.call('HDEL', KEYS[1], 'disabled_reason', 'disabled_at', 'next_probe_at')
end
if stamp >= stamp_of('breaker_at') then
  redis.call('HSET', KEYS[1], 'breaker_at', ARGV[1], 'breaker_state', 'closed', 'breaker_level', '0',
    'consecutive_failures', '0')
  redis.call('HDEL', KEYS[1], 'open_until')
end
if stamp > stamp_of('reset_at') then redis.call('HSET', KEYS[1], 'reset_at', ARGV[1]) end
local entries = redis.call('HGETALL', KEYS[2])
for i = 1, #entries, 2 do
  local ok, value = pcall(cjson.decode, entries[i + 1])
  if not ok or type(value) ~= 'table' or (tonumber(value['set_at']) or 0) < stamp then
    redis.call('HDEL', KEYS[2], entries[i])
  end
end
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
""")

ADD_USAGE: Final = Script("""
-- KEYS: day hash, minute hash, usage index, sequence
-- ARGV: channel, message body (a JSON object), day expires at, minute expires at,
--       then key id, model, requests, tokens for each entry
for i = 5, #ARGV, 4 do
  local field = ARGV[i] .. ':' .. ARGV[i + 1]
  redis.call('HINCRBY', KEYS[1], field .. ':r', ARGV[i + 2])
  redis.call('HINCRBY', KEYS[1], field .. ':t', ARGV[i + 3])
  redis.call('HINCRBY', KEYS[2], field .. ':r', ARGV[i + 2])
  redis.call('HINCRBY', KEYS[2], field .. ':t', ARGV[i + 3])
end
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('EXPIREAT', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], KEYS[1], ARGV[4], KEYS[2])
local seq = redis.call('INCR', KEYS[4])
redis.call('PUBLISH', ARGV[1], '{"s":' .. seq .. ',' .. string.sub(ARGV[2], 2))
return seq
""")

RAISE_COUNTERS: Final = Script("""
-- KEYS: counter hash, usage index
-- ARGV: expires at, then field/value pairs; each field becomes at least its value
for i = 2, #ARGV, 2 do
  local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0')
  if tonumber(ARGV[i + 1]) > stored then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], KEYS[1])
return 1
""")

ALL: Final = (SET_REGISTER, SET_COOLDOWN, RESET, ADD_USAGE, RAISE_COUNTERS)
