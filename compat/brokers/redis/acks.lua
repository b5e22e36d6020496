-- Acknowledges a batch of messages, of one or more lists, in one call: as the dispatch script's "ack"
-- does for one, this worker's heartbeat, then each id out of its ack set and (only if it was still
-- there: a requeued message belongs to whoever holds it now) its body out of the list's hash.
-- KEYS: the heartbeats, then per list its ack set of this worker and its bodies' hash.
-- ARGV: now (ms), this worker's id, then per list (in KEYS' order) a count and that many ids.
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local at = 3
for k = 2, #KEYS, 2 do
  local last = at + tonumber(ARGV[at])
  for i = at + 1, last do
    if redis.call('SREM', KEYS[k], ARGV[i]) > 0 then redis.call('HDEL', KEYS[k + 1], ARGV[i]) end
  end
  at = last + 1
end
