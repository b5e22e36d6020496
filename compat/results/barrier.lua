-- Count a chord header member in the chord's barrier set; the one caller that completes it claims it.
-- KEYS: barrier set, fired key. ARGV: member, size, ttl ms, claimant. Returns 1 for that one claimant,
-- again when it comes back (redelivered before its message was acknowledged: it may not have sent the body).
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  if redis.call('SET', KEYS[2], ARGV[4], 'NX', 'PX', ARGV[3]) then return 1 end
  if redis.call('GET', KEYS[2]) == ARGV[4] then return 1 end
end
return 0
