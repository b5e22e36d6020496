-- A batch of acknowledgements on its own (ack_many.lua follows): this worker's heartbeat first.
-- KEYS: the heartbeats, then per list this worker's ack set of it and its bodies' hash.
-- ARGV: now (ms), this worker's id, then per list (in KEYS' order) a count and that many ids.
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local first_key, at = 2, 3
