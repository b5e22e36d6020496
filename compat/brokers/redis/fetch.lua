-- Like Dramatiq's fetch, but returns {id, data, id, data, ...} so that a message whose body cannot be
-- decoded can still be acknowledged (and dead-lettered) by id. After fetch_head.lua and ack_many.lua.
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
