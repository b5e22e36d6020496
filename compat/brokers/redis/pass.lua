-- One maintenance pass: refresh this worker's heartbeat; return the workers whose heartbeat is older
-- than the cutoff, and the workers registered on this host with their PIDs (a host's entry outlives its
-- last worker by a day at most).
-- KEYS: the heartbeats, this host's workers. ARGV: broker id, now (ms), cutoff (ms).
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], 86400000)
return {redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[3]), redis.call('HGETALL', KEYS[2])}
