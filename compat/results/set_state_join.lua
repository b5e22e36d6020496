-- After write_state.lua: a chord header member's barrier, in the same call as its state write.
-- KEYS (after meta and done channel): barrier set, fired key, group record. ARGV (after the five of
-- write_state.lua): member, size, ttl, claimant, meta key prefix. Returns {0} while the chord is
-- incomplete; the one member that completes it gets {1, group record, meta of member 1, ...} (metas only
-- when the record reads as expected), and gets it again when redelivered (it may have died before sending
-- the body; the body's consumer keeps only one of its sends, claim_delivery.lua).
redis.call('SADD', KEYS[3], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[8])
if redis.call('SCARD', KEYS[3]) < tonumber(ARGV[7]) then return {0} end
if not redis.call('SET', KEYS[4], ARGV[9], 'NX', 'PX', ARGV[8]) then
  if redis.call('GET', KEYS[4]) ~= ARGV[9] then return {0} end
end
local raw = redis.call('GET', KEYS[5])
if not raw then return {1, false} end
local ok, doc = pcall(cjson.decode, raw)
if not ok or type(doc[2]) ~= 'table' then return {1, raw} end
local keys = {}
for i, node in ipairs(doc[2]) do
  if type(node[1]) ~= 'table' or type(node[1][1]) ~= 'string' then return {1, raw} end
  keys[i] = ARGV[10] .. node[1][1]
end
local out = {1, raw}
for first = 1, #keys, 500 do
  local values = redis.call('MGET', unpack(keys, first, math.min(first + 499, #keys)))
  for j = 1, #values do out[#out + 1] = values[j] end
end
return out
