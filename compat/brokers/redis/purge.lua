-- Discard the messages waiting in some lists (not the ones workers hold): their ids and bodies, in one
-- call, so no consumer fetches half of them. Returns how many were discarded.
-- KEYS: the lists (each with its <list>.msgs hash).
local total = 0
for _, list in ipairs(KEYS) do
  local ids = redis.call('LRANGE', list, 0, -1)
  for first = 1, #ids, 1000 do
    redis.call('HDEL', list .. '.msgs', unpack(ids, first, math.min(first + 999, #ids)))
  end
  redis.call('DEL', list)
  total = total + #ids
end
return total
