-- A fetch (fetch.lua) that first runs the acknowledgements waiting for it (ack_many.lua, in between).
-- KEYS: the list, its .msgs hash, this worker's ack set for the list, the heartbeats; then per list with
--   acknowledgements, this worker's ack set of it and its bodies' hash.
-- ARGV: count, now (ms), broker id; then per such list (in KEYS' order) a count and that many ids.
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[3])
local first_key, at = 5, 4
