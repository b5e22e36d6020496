-- Give a dead worker's held messages (its ack set for one list) back to the list; a message redelivered
-- more than `limit` times is a poison message: it is removed and returned, to be dead-lettered.
-- KEYS: the ack set, the list, its .msgs hash, the redelivery counts.
-- ARGV: limit (-1: no limit), TTL of the redelivery counts (ms).
-- Returns {data, count, data, count, ...} of the poison messages.
local ids = redis.call('SMEMBERS', KEYS[1])
local poisoned = {}
local limit = tonumber(ARGV[1])
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[3], id)
  if data then
    local count = redis.call('HINCRBY', KEYS[4], id, 1)
    if limit >= 0 and count > limit then
      redis.call('HDEL', KEYS[3], id)
      table.insert(poisoned, data)
      table.insert(poisoned, count)
    else
      redis.call('RPUSH', KEYS[2], id)
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
return poisoned
