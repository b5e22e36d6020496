-- After write_state.lua (compat/results): the message's acknowledgement, in the same call as its state
-- write, as the dispatch script's "ack" command does it: this worker's heartbeat, then the id out of its
-- ack set and the body out of the list's hash. The state is stored and the message acknowledged at
-- once, or neither is.
-- KEYS (after meta and done channel): this worker's ack set of the list, the list's bodies, heartbeats.
-- ARGV (after the five of write_state.lua): the message's Redis id, now (ms), this worker's id.
redis.call('ZADD', KEYS[5], ARGV[7], ARGV[8])
if redis.call('SREM', KEYS[3], ARGV[6]) > 0 then redis.call('HDEL', KEYS[4], ARGV[6]) end
