-- Like Dramatiq's fetch, but returns {id, data, id, data, ...} so that a message whose body cannot be
-- decoded can still be acknowledged (and dead-lettered) by id; and it first runs the acknowledgements
-- that waited for it (acks.lua, the same rule: the body goes only if the id was still this worker's).
-- KEYS: the list, its .msgs hash, this worker's ack set for the list, the heartbeats; then per list with
--   acknowledgements, this worker's ack set of it and its bodies' hash.
-- ARGV: count, now (ms), broker id; then per such list (in KEYS' order) a count and that many ids.
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
local at = 4
for k = 5, #KEYS, 2 do
  local last = at + tonumber(ARGV[at])
  for i = at + 1, last do
    if redis.call('SREM', KEYS[k], ARGV[i]) > 0 then redis.call('HDEL', KEYS[k + 1], ARGV[i]) end
  end
  at = last + 1
end
local ids = redis.call('LPOP', KEYS[1], ARGV[1])
if not ids then return {} end
redis.call('SADD', KEYS[3], unpack(ids))
local data = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i = 1, #ids do
  out[2 * i - 1] = ids[i]
  out[2 * i] = data[i]
end
return out
