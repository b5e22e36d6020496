-- Give a dead worker's held messages (its ack set for one list) back to the list; a message redelivered
-- more than `limit` times is a poison message: it is removed and returned, to be dead-lettered.
-- Requeued messages get a wake token, so an idle consumer starts them at once.
-- KEYS: the ack set, the list, its .msgs hash, the redelivery counts, the list's wake list.
-- ARGV: limit (-1: no limit), TTL of the redelivery counts (ms), most wake tokens kept.
-- Returns {data, count, data, count, ...} of the poison messages.
local ids = redis.call('SMEMBERS', KEYS[1])
local poisoned = {}
local requeued = 0
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
      requeued = requeued + 1
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
if requeued > 0 and redis.call('LLEN', KEYS[5]) < tonumber(ARGV[3]) then
  redis.call('LPUSH', KEYS[5], '-')
end
return poisoned
