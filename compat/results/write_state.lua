-- Writes a state record unless the stored one is ready ('force' overrides), and publishes ready states.
-- The start of both state scripts: set_state.lua ends it, set_state_join.lua goes on to the chord barrier.
-- KEYS: meta, done channel. ARGV: record, ttl ms, 'force' or '', '1' when ready, status.
-- The message is the record itself up to 64 KiB, so a waiter need not read it back (one round trip
-- less per wake); a larger one publishes the status alone, well inside Redis's pub/sub output limits.
local written = 1
if ARGV[3] ~= 'force' then
  local current = redis.call('GET', KEYS[1])
  if current then
    local ok, doc = pcall(cjson.decode, current)
    if ok and (doc.status == 'SUCCESS' or doc.status == 'FAILURE' or doc.status == 'REVOKED') then
      written = 0
    end
  end
end
if written == 1 then
  if tonumber(ARGV[2]) > 0 then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[1])
  end
  if ARGV[4] == '1' then
    if #ARGV[1] <= 65536 then
      redis.call('PUBLISH', KEYS[2], ARGV[1])
    else
      redis.call('PUBLISH', KEYS[2], ARGV[5])
    end
  end
end
