-- The one send of a message that may be sent twice (a chord body re-sent by a redelivered header member).
-- KEYS: claim key. ARGV: this send's token, ttl ms. Returns 1 for the first token seen (and for a
-- redelivery of that same send), 0 for any other send.
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if current == ARGV[1] then return 1 end
return 0
