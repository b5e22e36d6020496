-- Enqueue a batch in one call, in Dramatiq's layout (<ns>:<list>.msgs hash + <ns>:<list> list), then push
-- the wake tokens: consumers never see part of a batch, and delay() costs one round trip, like Dramatiq's
-- own send(). A wake list holds at most `kept` tokens: when it is full (no consumer is idle) the new
-- tokens are dropped.
-- ARGV: namespace, kept, n, then n x (list, id, data), then w, then w x (wake key, k, k tokens).
local ns = ARGV[1]
local kept = tonumber(ARGV[2])
local i = 4
for _ = 1, tonumber(ARGV[3]) do
  local list = ns .. ':' .. ARGV[i]
  redis.call('HSET', list .. '.msgs', ARGV[i + 1], ARGV[i + 2])
  redis.call('RPUSH', list, ARGV[i + 1])
  i = i + 3
end
local wakes = tonumber(ARGV[i])
i = i + 1
for _ = 1, wakes do
  local key = ns .. ':' .. ARGV[i]
  local count = tonumber(ARGV[i + 1])
  local room = kept - redis.call('LLEN', key)
  if room > 0 then
    redis.call('LPUSH', key, unpack(ARGV, i + 2, i + 1 + math.min(count, room)))
  end
  i = i + 2 + count
end
return 1
