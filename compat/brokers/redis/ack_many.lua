-- Acknowledges a batch of messages of one or more lists: each id out of this worker's ack set of its
-- list and (only if it was still there: a requeued message belongs to whoever holds it now) its body out
-- of the list's hash, as the dispatch script's "ack" does for one. Run after a head that sets
-- first_key: the KEYS index of the first list's ack set (then its bodies' hash, then the next list's),
-- at: the ARGV index of the first list's count (then that many ids, then the next list's count).
for k = first_key, #KEYS, 2 do
  local last = at + tonumber(ARGV[at])
  for i = at + 1, last do
    if redis.call('SREM', KEYS[k], ARGV[i]) > 0 then redis.call('HDEL', KEYS[k + 1], ARGV[i]) end
  end
  at = last + 1
end
