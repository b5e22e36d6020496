-- Move up to ARGV[1] messages out of Celery's Redis keys into the import's staging list, atomically:
-- a message is either still in Celery's keys or in the staging list, never in both, never in neither.
-- KEYS[1]: the staging list; KEYS[2], KEYS[3]: kombu's `unacked` hash and `unacked_index` zset;
-- KEYS[4..]: the queue lists (each priority lane); ARGV[2..]: the queue name of each of those lists.
-- Each staged entry is a JSON array: ["queue", <queue name>, <payload>] or ["unacked", <tag>, <entry>].
-- Queue lists are read from the right (kombu LPUSHes and its workers RPOP: oldest first).
local limit = tonumber(ARGV[1])
local staged = {}
for i = 4, #KEYS do
  while #staged < limit do
    local payload = redis.call('RPOP', KEYS[i])
    if not payload then break end
    local entry = cjson.encode({'queue', ARGV[i - 2], payload})
    redis.call('LPUSH', KEYS[1], entry)
    staged[#staged + 1] = entry
  end
end
local function stage_tag(tag)
  local raw = redis.call('HGET', KEYS[2], tag)
  redis.call('ZREM', KEYS[3], tag)
  redis.call('HDEL', KEYS[2], tag)
  if raw then
    local entry = cjson.encode({'unacked', tag, raw})
    redis.call('LPUSH', KEYS[1], entry)
    staged[#staged + 1] = entry
  end
end
if #staged < limit then
  for _, tag in ipairs(redis.call('ZRANGE', KEYS[3], 0, limit - #staged - 1)) do
    stage_tag(tag)
  end
end
if #staged < limit then
  -- an `unacked` entry whose index entry is gone (kombu writes both in one pipeline; be thorough)
  local scan = redis.call('HSCAN', KEYS[2], 0, 'COUNT', limit - #staged)
  for i = 1, #scan[2], 2 do
    if #staged >= limit then break end
    stage_tag(scan[2][i])
  end
end
return staged
